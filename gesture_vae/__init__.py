"""Audio2Gestures (Li et al., ICCV'21): the split-latent conditional VAE."""
