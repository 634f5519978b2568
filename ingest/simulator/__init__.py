"""A deterministic synthetic Gaia XP sky with H-alpha emitters of known strength.

The instrument (LSF, calibration, XP H-alpha EW) lives in ``ingest.xp_physics``.
One concept per module:
  continua      the real parent spectra, G from XP fluxes, error growth with magnitude
  sky           positions (Galactic disc or uniform) and HEALPix-consistent source_ids
  population    the class / EW / width mixture
  generator     one chunk of simulated sources (deterministic per chunk)
  writer        Gaia archive FITS / CSV / ECSV tables, written with numpy
  gaia_format   xp_continuous_mean_spectrum and gaia_source columns of a chunk
  sdss_format   spec-PLATE-MJD-FIBER.fits files;  lamost_format  a Hou+2016-like catalogue
  truth         the truth table and its loading into labels.simulation_truth
  pipeline      `xpha simulate`: all of the above, streamed to OUT;  plots  example PNG
"""
