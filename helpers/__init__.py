"""Shared training loop and the post-processing steps: velocities, filters, BVH, video."""
