"""Training and scoring H-alpha emitter models on Gaia XP coefficients."""
