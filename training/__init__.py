"""The project's one training loop (:mod:`training.loop`): every model family trains through it.

:class:`training.loop.Trainer` runs the IVA'19 speech model, the motion DAE, Audio2Gestures,
the FGD feature extractor and multi-optimizer models (generator / discriminator with warm-up)
with the same services: ``tf.distribute``-ready compiled steps, exact resume, early stopping,
TensorBoard, ``history.csv`` and a loss curve.
"""
