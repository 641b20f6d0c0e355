# Sourced by the scripts: makes sure .venv holds the pinned Python tools
# (moto server for SQS/DynamoDB, cfn-lint) and puts it first on PATH.
PYTHON_REQUIREMENTS="infra/scripts/requirements.txt"

ensure_python_env() {
  local venv=".venv"
  local stamp="$venv/.requirements.sha256"
  local want
  want=$(sha256sum "$PYTHON_REQUIREMENTS" | cut -d' ' -f1)
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "==> installing Python tools into $venv (moto server, cfn-lint)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$PYTHON_REQUIREMENTS"
    echo "$want" > "$stamp"
  fi
  PATH="$PWD/$venv/bin:$PATH"
  export PATH
}
