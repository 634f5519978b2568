"""Sources per split (train/val/test) of every ingested XP source, as the pipeline splits them."""

import numpy as np

from sql.database import connect, database_url
from training import splits
from training.settings import get_settings

settings = get_settings()
with connect(database_url(settings)) as conn:
    rows = conn.execute("SELECT source_id FROM gaia.xp_continuous").fetchall()
# this evaluation split by sky cell alone (it predates the parent-grouped split)
codes = splits.assign_with(settings, np.array([r[0] for r in rows], np.int64))
print({name: int((codes == code).sum()) for code, name in splits.NAMES.items()}, len(rows))
