"""The baseline of the start-up and memory figures: a bare PySide6 window (QApplication + QLabel
shown, then quit).

Run as a script, offscreen, by `bench.startup` (prints `ready` once the label is shown, the way
`python -m kiosk --smoke` does for its first screen) and by `bench.memory` with `--peak` (also
prints its peak resident size, VmHWM, as the benchmarks' result line). Imports nothing but PySide6.
"""

import json
import sys

from PySide6.QtWidgets import QApplication, QLabel

app = QApplication(sys.argv)
label = QLabel("ready")
label.show()
app.processEvents()
print("ready", flush=True)
if "--peak" in sys.argv:  # VmHWM, as bench.memory.peak_mb reads it
    with open("/proc/self/status", encoding="ascii") as status:
        peak_mb = next(int(line.split()[1]) / 1024 for line in status
                       if line.startswith("VmHWM:"))
    print("BENCH-RESULT " + json.dumps({"peak_mb": peak_mb}), flush=True)
label.close()
app.quit()
