"""Data layer: BVH, rotations, kinematics, speech features, the demo speaker, dataset steps."""
