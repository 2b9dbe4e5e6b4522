"""Number formats of training and sampling: ``float32`` (the default) or mixed precision.

``mixed_bfloat16`` and ``mixed_float16`` keep every variable in float32 and compute the
model's sub-networks (the layers its own code calls: encoders, decoders, discriminators) in
16 bits; what the family's code computes between and after them (sampling, kinematics,
losses) stays in float32, because each sub-network's outputs are cast back to float32. As the
variables do not change, a run trained in one precision is sampled in any other, and
:func:`set_precision` can switch a built (or loaded) model back and forth.

``mixed_float16`` also needs loss scaling (:func:`wrap_optimizer`), which the training loop
applies through ``optimizer.scale_loss``. 16-bit formats pay off only where the hardware
computes them natively: bf16 on CPUs with AMX or AVX-512-BF16 and on recent GPUs, float16 on
GPUs; elsewhere they are emulated and slower than float32. float32 stays the default so that
results do not depend on the machine's number formats.

Importing this module does not import Keras (the CLIs' ``--help`` lists :data:`PRECISIONS`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
DEFAULT = "float32"


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else a ``ValueError``."""
    if precision not in PRECISIONS:
        raise ValueError(f"Expected a precision in {PRECISIONS}. Received: {precision!r}")
    return precision


def _float32(tensor):
    """A floating tensor as float32; others (ids, masks) unchanged."""
    import keras

    is_float = keras.backend.is_float_dtype(keras.backend.standardize_dtype(tensor.dtype))
    return keras.ops.cast(tensor, "float32") if is_float else tensor


def _with_float32_outputs(call):
    """``call`` whose floating outputs (any nesting) are cast to float32."""
    import keras

    def float32_call(*args, **kwargs):
        return keras.tree.map_structure(_float32, call(*args, **kwargs))

    float32_call.wrapped = call
    return float32_call


def _set_policy(layer: keras.layers.Layer, policy: str) -> None:
    """Give ``layer`` the dtype policy ``policy`` (untouched when it has it: a float32 no-op)."""
    if layer.dtype_policy.name != policy:
        layer.dtype_policy = policy


def set_precision(model: keras.Model, precision: str) -> keras.Model:
    """Compute ``model``'s sub-networks in ``precision``, its own code in float32 (in place).

    Parameters
    ----------
    model : keras.Model
        Built or not; its variables stay float32 whatever the precision.
    precision : str
        One of :data:`PRECISIONS`; ``float32`` undoes an earlier call.

    Returns
    -------
    keras.Model
        ``model``.
    """
    check_precision(precision)
    for layer in model._flatten_layers(include_self=False):
        _set_policy(layer, precision)
        if hasattr(layer.call, "wrapped"):
            layer.call = layer.call.wrapped
    _set_policy(model, DEFAULT)
    if precision != DEFAULT:
        for child in model._flatten_layers(include_self=False, recursive=False):
            child.call = _with_float32_outputs(child.call)
    return model


def wrap_optimizer(optimizer: keras.optimizers.Optimizer,
                   precision: str) -> keras.optimizers.Optimizer:
    """``optimizer``, in a ``LossScaleOptimizer`` for ``mixed_float16`` (loss scaling)."""
    import keras

    if check_precision(precision) == "mixed_float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def record_precision(run_dir, precision: str) -> None:
    """Add ``"precision": precision`` to the run's ``RUN_DIR/config.json``."""
    from data_processing.files import read_json, write_json

    path = Path(run_dir) / "config.json"
    write_json(path, {**read_json(path), "precision": check_precision(precision)})
