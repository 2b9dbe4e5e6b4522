"""HA2G (Liu et al., CVPR'22): hierarchical audio-to-gesture generation, the third model family."""
