# Sourced by setup.sh and setup_onedl.sh.
#
# install_mmcv_from_source VENV DIST VERSION WHEEL_CACHE [PIP_OPTION...]
# Installs DIST==VERSION (mmcv or onedl-mmcv, published as source only) with its ops
# into VENV unless `import mmcv.ops` works there already. The source asks for C++14/17
# while torch 2.14's headers need C++20: it is built once with the flag raised and the
# wheel kept in WHEEL_CACHE, so later set-ups take seconds. PIP_OPTIONs (constraints)
# go to the final install.
install_mmcv_from_source() {
    local venv=$1 dist=$2 version=$3 wheel_cache=$4
    shift 4
    local name=${dist//-/_}-$version
    "$venv/bin/python" -c 'import mmcv.ops' 2>/dev/null && return 0
    mkdir -p "$wheel_cache"
    if ! ls "$wheel_cache/$name"-*.whl >/dev/null 2>&1; then
        echo "Building $dist $version with its ops (about 12 minutes on 2 cores)..."
        local src
        src=$(mktemp -d)
        "$venv/bin/python" -m pip download --quiet --no-deps --no-binary "$dist" \
            --no-build-isolation "$dist==$version" -d "$src"
        tar -xzf "$src/$name.tar.gz" -C "$src"
        sed -i 's/-std=c++1[47]/-std=c++20/g' "$src/$name/setup.py"
        MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} "$venv/bin/python" -m pip wheel \
            --quiet --no-deps --no-build-isolation -w "$wheel_cache" "$src/$name"
        rm -rf "$src"
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" \
        "$wheel_cache/$name"-*.whl
}
