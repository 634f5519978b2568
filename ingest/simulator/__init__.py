"""A deterministic synthetic Gaia XP sky with H-alpha emitters of known strength."""
