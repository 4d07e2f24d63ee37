import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Tests never touch the user's cache/ folder.
os.environ.setdefault("GDX_CACHE_DIR", tempfile.mkdtemp(prefix="gdx-test-cache-"))
