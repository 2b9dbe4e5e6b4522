"""Temporal smoothing of generated motion: One-Euro, simple moving average, Savitzky-Golay.

Usage::

    python helpers/apply_filters.py -g DIR [-w 5] [--fps 20] [--savgol-window 9 --savgol-order 3]

Every ``.txt``/``.npy`` file of ``DIR`` is filtered column by column into (as the original)
``DIR/euro/``, ``DIR/sma<w>/``, ``DIR/euro_sma<w>/``, plus ``DIR/savgol<window>/`` (the
Savitzky-Golay smoothing of the IVA'19 demo repository).

* One-Euro (Casiez et al. 2012) with the original's settings (20 Hz, min cutoff 0.1, beta
  0.08, derivative cutoff 1). Every column has its own filter state; the original shared one
  state across all columns, so each column started from the end of the previous one.
* Moving average of an odd window whose ends shrink at the edges, as the original: frame ``t``
  averages frames ``[t - h, t + h]`` clipped to the recording (``h = (w - 1) / 2``).
* Savitzky-Golay: ``scipy.signal.savgol_filter`` (window 9, order 3, ``mode="interp"``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import savgol_filter

from data_processing.files import PipelineError, load_array, run_cli, save_array
from data_processing.motion import ARRAY_SUFFIXES, motion_files


@dataclass(frozen=True)
class OneEuroSettings:
    """One-Euro filter parameters (the IVA'19 values).

    Parameters
    ----------
    freq : float > 0
        Sampling rate (Hz).
    mincutoff : float > 0
        Minimum cutoff frequency (Hz).
    beta : float >= 0
        Cutoff slope (speed coefficient).
    dcutoff : float > 0
        Cutoff frequency of the derivative (Hz).
    """

    freq: float = 20.0
    mincutoff: float = 0.1
    beta: float = 0.08
    dcutoff: float = 1.0


def _alpha(cutoff, freq: float):
    tau = 1.0 / (2.0 * np.pi * cutoff)
    return 1.0 / (1.0 + tau * freq)


def one_euro(signal: np.ndarray, settings: OneEuroSettings = OneEuroSettings()) -> np.ndarray:
    """One-Euro filter of every column of ``signal`` ``(T, C)``, one filter state per column.

    The filter is recursive with a cutoff that depends on the signal, so it steps through the
    frames; each step is vectorised over all columns.
    """
    if settings.freq <= 0 or settings.mincutoff <= 0 or settings.dcutoff <= 0:
        raise ValueError(f"Expected positive freq, mincutoff and dcutoff. Received: {settings}")
    x = np.asarray(signal, dtype=np.float64)
    out = np.empty_like(x)
    if not len(x):
        return out
    alpha_d = _alpha(settings.dcutoff, settings.freq)
    out[0] = x[0]
    smoothed_dx = np.zeros(x.shape[1:])
    for t in range(1, len(x)):
        dx = (x[t] - x[t - 1]) * settings.freq  # the derivative of the raw signal, as the original
        smoothed_dx = alpha_d * dx + (1.0 - alpha_d) * smoothed_dx
        alpha = _alpha(settings.mincutoff + settings.beta * np.abs(smoothed_dx), settings.freq)
        out[t] = alpha * x[t] + (1.0 - alpha) * out[t - 1]
    return out


def moving_average(signal: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over an odd ``window``, shrinking at the edges (cumulative sums)."""
    if window < 1 or window % 2 == 0:
        raise ValueError(f"Expected an odd window >= 1. Received: window={window}")
    x = np.asarray(signal, dtype=np.float64)
    half = window // 2
    sums = np.concatenate([np.zeros((1, *x.shape[1:])), np.cumsum(x, axis=0)])
    t = np.arange(len(x))
    start, stop = np.maximum(t - half, 0), np.minimum(t + half + 1, len(x))
    counts = (stop - start).reshape(-1, *([1] * (x.ndim - 1)))
    return (sums[stop] - sums[start]) / counts


def savgol(signal: np.ndarray, window: int = 9, order: int = 3) -> np.ndarray:
    """Savitzky-Golay smoothing of every column (the window shrinks to the signal if shorter)."""
    x = np.asarray(signal, dtype=np.float64)
    window = min(window, len(x) if len(x) % 2 else len(x) - 1)
    if window <= order:
        return x.copy()
    return savgol_filter(x, window, order, axis=0, mode="interp")


def apply_filters(directory, *, window: int = 5, euro: OneEuroSettings = OneEuroSettings(),
                  savgol_window: int = 9, savgol_order: int = 3) -> dict[str, Path]:
    """Filter every motion file of ``directory`` into the four sub-directories; return them."""
    directory = Path(directory)
    if window < 1 or window % 2 == 0:
        raise PipelineError(f"-w must be an odd window >= 1, got {window}")
    outputs = {name: directory / name for name in
               ("euro", f"sma{window}", f"euro_sma{window}", f"savgol{savgol_window}")}
    for path in motion_files(directory, ARRAY_SUFFIXES).values():
        raw = load_array(path, ndim=2)
        smooth = one_euro(raw, euro)
        results = (smooth, moving_average(raw, window), moving_average(smooth, window),
                   savgol(raw, savgol_window, savgol_order))
        for out_dir, filtered in zip(outputs.values(), results):
            save_array(out_dir / path.name, filtered.astype(np.float32))
    return outputs


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gesture", "-g", required=True, help="directory of motion files")
    parser.add_argument("--window", "-w", type=int, default=5,
                        help="moving-average window, odd (default 5)")
    parser.add_argument("--fps", type=float, default=OneEuroSettings.freq,
                        help="frame rate for the One-Euro filter (default 20)")
    parser.add_argument("--savgol-window", type=int, default=9,
                        help="Savitzky-Golay window, odd (default 9)")
    parser.add_argument("--savgol-order", type=int, default=3,
                        help="Savitzky-Golay polynomial order (default 3)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    outputs = apply_filters(args.gesture, window=args.window, euro=OneEuroSettings(freq=args.fps),
                            savgol_window=args.savgol_window, savgol_order=args.savgol_order)
    print("filtered ->", ", ".join(str(p) for p in outputs.values()))
    return 0


if __name__ == "__main__":
    run_cli(main)
