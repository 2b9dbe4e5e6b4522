"""IVA'19 denoising autoencoder (MotionE / MotionD) and its step scripts."""
