#!/usr/bin/env bash
# Print the path of a uv executable, installing uv from PyPI first if there is none.
# Works on a machine that has only python3: tries pip --user (allowing Debian's
# externally-managed Python), then a private virtual environment under .tools/.
set -euo pipefail
if command -v uv >/dev/null 2>&1; then command -v uv; exit 0; fi
for candidate in "$HOME/.local/bin/uv" ".tools/bin/uv"; do
  if [ -x "$candidate" ]; then echo "$candidate"; exit 0; fi
done
echo "uv not found: installing it from PyPI" >&2
if python3 -m pip install --user --quiet uv >&2 2>/dev/null \
   || python3 -m pip install --user --quiet --break-system-packages uv >&2 2>/dev/null; then
  for candidate in "$HOME/.local/bin/uv" "$(python3 -c 'import sysconfig;print(sysconfig.get_path("scripts", "posix_user"))')/uv"; do
    if [ -x "$candidate" ]; then echo "$candidate"; exit 0; fi
  done
fi
python3 -m venv .tools >&2 && .tools/bin/python -m pip install --quiet uv >&2
echo ".tools/bin/uv"
