"""Getting data into xpha's database: Gaia XP and gaia_source files, archive fetchers,
SDSS H-alpha measurements, LAMOST catalogues, crossmatches, and the synthetic-sky simulator."""
