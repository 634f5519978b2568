"""The two-phase denoising autoencoder: masked-band pre-training, then an emitter head."""
