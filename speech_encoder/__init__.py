"""The IVA'19 speech encoder (Kucherenko et al., IVA'19).

Speech context windows to motion (the baseline) or to the codes of a motion representation
(:mod:`motion_repr_learning`), and the trained model that ``predict.py`` loads
(:class:`speech_encoder.model.IVA19Model`).
"""
