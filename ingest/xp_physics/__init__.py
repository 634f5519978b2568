"""Gaia DR3 XP instrument physics that the simulator and training share (below both).

calibration   the DR3 calibrated spectrum as a linear map (shipped gaiaxpy sampling matrices)
lsf           the Weiler (2023) LSF: a line's coefficient increment in BP and RP (forward model)
halpha_ew     the XP-native H-alpha equivalent width measured on the calibrated spectrum
"""
