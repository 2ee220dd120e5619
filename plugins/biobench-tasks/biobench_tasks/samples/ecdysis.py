"""An Ecdysis export: four taxa of fifteen dated specimens, rows not in date order.

Written by the task's tests and by ``biobench plugins validate`` (``sample_data``); colour (or brightness)
codes the label, so a probe on any backbone learns it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from biobench_tasks.samples import write_csv, write_image

__all__ = ["TAXA", "HEADER", "N_PER_TAXON", "date_text", "make_ecdysis"]

TAXA = (  # gbif_class, gbif_order, gbif_family, gbif_genus, gbif_species
    ("Insecta", "Coleoptera", "Carabidae", "Harpalus", "Harpalus pensylvanicus"),
    ("Insecta", "Coleoptera", "Coccinellidae", "Coleomegilla", "Coleomegilla maculata"),
    ("Insecta", "Hymenoptera", "Apidae", "Bombus", "Bombus impatiens"),
    ("Insecta", "Hymenoptera", "Formicidae", "Formica", ""),  # identified to genus only
)
# The export's columns, in its order (BioBench's download script lists them); the task reads only some, by name.
HEADER = ["id", "specimen_id", "image_thumbnail_large", "archival_identifier", "archival_stored", "visit_date",
          "country", "state_region", "county_region", "us_state_county_fips", "gbif_class", "gbif_order",
          "gbif_family", "gbif_genus", "gbif_species", "reviewed", "public_url"]


N_PER_TAXON = 15


def date_text(day: int) -> str:
    """Day ``day`` of the survey season in one of the formats the export may hold."""
    date = dt.datetime(2021, 5, 1, 9, 30) + dt.timedelta(days=day)
    return (date.strftime("%Y-%m-%d"), date.strftime("%m/%d/%Y"), date.strftime("%Y-%m-%dT%H:%M:%SZ"),
            date.strftime("%Y-%m-%d %H:%M"))[day % 4]


def make_ecdysis(root: Path, *, edit=None) -> Path:
    """``N_PER_TAXON`` specimens per taxon on distinct days, rows shuffled (not in date order); ``edit(rows)`` may
    change the rows before they are written."""
    rows = []
    for t, taxon in enumerate(TAXA):
        for i in range(N_PER_TAXON):
            example_id = str(1000 + 37 * ((t * N_PER_TAXON + i) * 7 % 60))
            name = f"EF{example_id}_{t}{i:02d}.JPG"
            write_image(root / "images" / name, t, len(TAXA), seed=i)
            rows.append(dict(zip(HEADER, [
                example_id, f"EF-{example_id}", f"https://bugbox.ecdysis.bio/media/specimen_images/{name}?v=2",
                f"box{t}", "true", date_text(i * 5 + t), "US", "SD", "Brookings", "46011", *taxon, "true",
                f"https://bugbox.ecdysis.bio/media/public/{name}"])))
    rows = rows[::2] + rows[1::2]
    if edit is not None:
        rows = edit(rows)
    root.mkdir(parents=True, exist_ok=True)
    write_csv(root / "metadata.csv", rows)
    return root
