"""Peak memory of reading a unit list that is a zip bomb (issue 13): a real XLSX of a few hundred KB
whose shared strings unpack to N MB (default 400).  Each read runs in a fresh process; the figure is
that process's peak resident memory (ru_maxrss) minus its baseline after imports.

    python bench/zip_bomb.py [MB]          # the code as it is
    BOUND=0 python bench/zip_bomb.py [MB]  # with the unpacked-size bound lifted (as before issue 13)
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def child(path: str) -> None:
    import workflow.unit_files as uf

    if os.environ.get("BOUND") == "0":
        uf.MAX_UNPACKED_XLSX = 1 << 40
    data = Path(path).read_bytes()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    try:
        uf.read_units(data, "don-vi.xlsx")
        outcome = "read"
    except uf.UnitFileError as exc:
        outcome = "refused: " + str(exc)[:90]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{len(data) / 1024:.0f} KB file: {outcome}; peak +{(peak - base) / 1024:.0f} MB; "
          f"{time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2])
        sys.exit(0)
    from tests.test_dossier_hardening import _xlsx_bomb

    mb = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    target = Path(os.environ.get("TMPDIR", "/tmp")) / f"bomb-{mb}.xlsx"
    target.write_bytes(_xlsx_bomb(mb))
    for bound in ("1", "0"):
        print(f"bound {'on ' if bound == '1' else 'off'}: ", end="", flush=True)
        subprocess.run([sys.executable, __file__, "--child", str(target)], env={**os.environ, "BOUND": bound},
                       check=False)
    target.unlink()
