#!/usr/bin/env bash
# The Docker testnet's files, checked without Docker: docker/docker-compose.yml parses and has the
# expected services, ports, volumes, healthchecks and settings, consistent with each other (every
# agent's LISTEN port is the one the others have in WEMIXVISOR_PEERS, wvcoord watches exactly the
# validators, the dashboard port is published); every variable it sets is one that wemixvisor,
# wvcoord or docker/entrypoint.sh reads; every path it and the Dockerfile name exists; the
# Dockerfile installs packages only through scripts/install-deps.sh (scripts/packages.txt), and
# the runtime section of that list holds the libraries the built binaries link. Then shellcheck
# of docker/*.sh, and `docker compose config -q` where Docker Compose is installed.
set -euo pipefail
: "${WEMIXVISOR:?set by ctest}" "${WVCOORD:?set by ctest}" "${FAKENODE:?set by ctest}"
top=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/wv-test_docker_files.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() {
  echo "FAIL test_docker_files: $*" >&2
  exit 1
}

py=
for p in python3 /usr/bin/python3; do
  if command -v "$p" >/dev/null && "$p" -c 'import yaml' 2>/dev/null; then
    py=$p
    break
  fi
done
[ -n "$py" ] || fail "no python3 with PyYAML: install python3-yaml (scripts/install-deps.sh)"

# what the programs read: wemixvisor's variables (`config`), wvcoord's (`--help`)
DAEMON_HOME="$T/home" DAEMON_NAME=wemixd "$WEMIXVISOR" config >"$T/config.txt" || fail "wemixvisor config"
"$WVCOORD" --help >"$T/wvcoord-help.txt" 2>&1 || fail "wvcoord --help"
bash "$top/scripts/install-deps.sh" --list --only runtime >"$T/runtime.txt" || fail "install-deps.sh --list --only runtime"

# the packages of the libraries the binaries link themselves (NEEDED), as dpkg knows them
: >"$T/needed.txt"
if command -v dpkg-query >/dev/null && command -v ldd >/dev/null && command -v objdump >/dev/null; then
  for b in "$WEMIXVISOR" "$WVCOORD" "$FAKENODE"; do
    objdump -p "$b" | awk '$1 == "NEEDED" { print $2 }' >"$T/needed-names.txt"
    ldd "$b" | awk 'NR == FNR { want[$1] = 1; next } ($1 in want) && $3 ~ /^\// { print $1, $3 }' \
      "$T/needed-names.txt" -
  done | sort -u >"$T/needed-paths.txt"
  while read -r soname path; do
    real=$(readlink -f "$path")
    # dpkg knows a library by the path its package ships (/lib or /usr/lib on a merged /usr)
    pkg=$(dpkg -S "$real" "/usr$real" "${real#/usr}" 2>/dev/null | head -n 1 | cut -d: -f1 || true)
    echo "$soname $pkg"
  done <"$T/needed-paths.txt" >"$T/needed.txt"
fi

TOP=$top T=$T "$py" - <<'PY' || fail "see above"
import os, re, sys, yaml

top, T = os.environ["TOP"], os.environ["T"]
docker = os.path.join(top, "docker")
errors = []
def err(msg): errors.append(msg)
def read(p): return open(p, encoding="utf-8").read()

compose_path = os.path.join(docker, "docker-compose.yml")
try:
    doc = yaml.safe_load(read(compose_path))
except yaml.YAMLError as e:
    print(f"docker-compose.yml is not valid YAML: {e}", file=sys.stderr); sys.exit(1)
if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict):
    print("docker-compose.yml: no services mapping", file=sys.stderr); sys.exit(1)
services = doc["services"]
declared_volumes = set((doc.get("volumes") or {}).keys())

entrypoint = read(os.path.join(docker, "entrypoint.sh"))
dockerfile = read(os.path.join(docker, "Dockerfile"))
agent_vars = {l.split()[0] for l in read(os.path.join(T, "config.txt")).splitlines() if l.strip()}
coord_vars = set(re.findall(r"\b(?:WVCOORD|WEMIXVISOR)_[A-Z_]+\b", read(os.path.join(T, "wvcoord-help.txt"))))
runtime_pkgs = set(read(os.path.join(T, "runtime.txt")).split())

def env_of(name):
    env = services[name].get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
    return {k: (None if v is None else str(v)) for k, v in env.items()}

def port_of(endpoint):  # tcp://host:port, host:port, http://host:port/...
    m = re.match(r"^(?:[a-z]+://)?([^:/]+|\*):(\d+)(?:/.*)?$", endpoint or "")
    return (m.group(1), int(m.group(2))) if m else (None, None)

def seconds(d):  # 10s, 1m30s, 500ms
    total, s = 0.0, str(d)
    for n, u in re.findall(r"(\d+)(ms|h|m|s)", s):
        total += int(n) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[u]
    if not re.fullmatch(r"((\d+)(ms|h|m|s))+", s): err(f"bad duration {s!r}")
    return total

def healthcheck(name):
    hc = services[name].get("healthcheck") or {}
    test = hc.get("test")
    if not test: err(f"{name}: no healthcheck"); return []
    if isinstance(test, str): test = ["CMD-SHELL", test]
    if test[0] not in ("CMD", "CMD-SHELL"): err(f"{name}: healthcheck test starts with {test[0]!r}")
    for k in ("interval", "timeout"):
        if k in hc: seconds(hc[k])
    return test[1:] if test[0] == "CMD" else test[1].split()

def command(name):
    c = services[name].get("command")
    if isinstance(c, str): c = c.split()
    return [str(x) for x in (c or [])]

def volumes_of(name):  # {target: source} of the named volumes
    out = {}
    for v in services[name].get("volumes") or []:
        if isinstance(v, str):
            parts = v.split(":")
            src, dst = (parts[0], parts[1]) if len(parts) >= 2 else (None, parts[0])
        else:
            src, dst = v.get("source"), v.get("target")
        if src and not src.startswith((".", "/", "~")):
            out[dst] = src
            if src not in declared_volumes: err(f"{name}: volume {src} is not declared under volumes:")
        elif src:
            err(f"{name}: bind mount {v!r}: use named volumes")
    return out

def flag(args, name):
    return args[args.index(name) + 1] if name in args and args.index(name) + 1 < len(args) else None

def check_vars(name, env, allowed, what):
    for k in env:
        if k.startswith("WV_"):
            if not re.search(r"\b" + k + r"\b", entrypoint):
                err(f"{name}: {k} is not read by docker/entrypoint.sh")
        elif re.match(r"^(WEMIXVISOR|DAEMON|WVCOORD|UNSAFE|COSMOVISOR)_|^VALIDATOR_MODE$", k):
            if k not in allowed:
                err(f"{name}: {k} is not a variable of {what}")
        else:
            err(f"{name}: {k}: not a variable of wemixvisor, wvcoord or docker/entrypoint.sh")

by_role = {"validator": [], "coordinator": [], "files": []}
for name in services:
    cmd = command(name)
    role = cmd[0] if cmd else None
    if role not in by_role: err(f"{name}: command {cmd} is none of validator, coordinator, files")
    else: by_role[role].append(name)
validators, coords, files = sorted(by_role["validator"]), by_role["coordinator"], by_role["files"]
if len(validators) != 4: err(f"want 4 validators, have {validators}")
if len(coords) != 1 or len(files) != 1: err(f"want one coordinator and one files service: {coords} {files}")
if errors:
    print("\n".join(errors), file=sys.stderr); sys.exit(1)
coord, filesvc = coords[0], files[0]

# the keys the Compose Specification knows (a typo such as `healtcheck` would be ignored silently
# by an old Compose, refused by a new one); top level likewise
SERVICE_KEYS = set("""annotations attach blkio_config build cap_add cap_drop cgroup cgroup_parent command
    configs container_name cpu_count cpu_percent cpu_period cpu_quota cpu_rt_period cpu_rt_runtime
    cpu_shares cpus cpuset credential_spec depends_on deploy develop device_cgroup_rules devices dns
    dns_opt dns_search domainname entrypoint env_file environment expose extends external_links
    extra_hosts gpus group_add healthcheck hostname image init ipc isolation label_file labels links
    logging mac_address mem_limit mem_reservation mem_swappiness memswap_limit models network_mode
    networks oom_kill_disable oom_score_adj pid pids_limit platform ports post_start pre_stop
    privileged profiles provider pull_policy read_only restart runtime scale secrets security_opt
    shm_size stdin_open stop_grace_period stop_signal storage_opt sysctls tmpfs tty ulimits
    use_api_socket user userns_mode uts volumes volumes_from working_dir""".split())
HEALTHCHECK_KEYS = {"disable", "interval", "retries", "test", "timeout", "start_period", "start_interval"}
for k in doc:
    if k not in ("version", "name", "include", "services", "networks", "volumes", "secrets", "configs", "models") \
            and not k.startswith("x-"):
        err(f"docker-compose.yml: unknown top-level key {k}")
for name, s in services.items():
    for k in s:
        if k not in SERVICE_KEYS and not k.startswith("x-"): err(f"{name}: unknown service key {k}")
    for k in s.get("healthcheck") or {}:
        if k not in HEALTHCHECK_KEYS: err(f"{name}: unknown healthcheck key {k}")
    env = s.get("environment") or {}
    for k, val in (env.items() if isinstance(env, dict) else []):
        if isinstance(val, (dict, list)): err(f"{name}: {k} is not a scalar")
    c = s.get("command")
    if isinstance(c, list) and not all(isinstance(x, str) for x in c):
        err(f"{name}: command items must be strings (quote numbers): {c}")

# every service: the one image, built from the repository with docker/Dockerfile
images = set()
for name, s in services.items():
    images.add(s.get("image"))
    b = s.get("build")
    if b is None: err(f"{name}: no build section"); continue
    ctx = os.path.normpath(os.path.join(docker, b["context"] if isinstance(b, dict) else b))
    if ctx != os.path.normpath(top): err(f"{name}: build context {ctx} is not the repository root")
    df = os.path.join(ctx, b.get("dockerfile", "Dockerfile") if isinstance(b, dict) else "Dockerfile")
    if not os.path.isfile(df): err(f"{name}: no Dockerfile at {df}")
    if not s.get("restart"): err(f"{name}: no restart policy")
if len(images) != 1 or None in images: err(f"the services should share one image tag: {images}")

# files: the port, its healthcheck
fenv = env_of(filesvc)
check_vars(filesvc, fenv, set(), "the files service")
fport = int(fenv.get("WV_FILES_PORT") or 8000)
if str(fport) not in [str(p).split("/")[0] for p in services[filesvc].get("expose") or []] + \
        [str(p).split(":")[-1] for p in services[filesvc].get("ports") or []]:
    err(f"{filesvc}: port {fport} is neither exposed nor published")
ft = healthcheck(filesvc)
if not any(f":{fport}/" in a for a in ft): err(f"{filesvc}: the healthcheck does not ask port {fport}: {ft}")

# the validators
endpoints, chain_ids, homes = {}, set(), {}
shared_mounts = {}
fleet_expected = set(validators)
for v in validators:
    env = env_of(v)
    check_vars(v, env, agent_vars, "wemixvisor (`wemixvisor config`)")
    for k, want in (("VALIDATOR_MODE", "true"), ("WEMIXVISOR_CURVE", "true"), ("DAEMON_ALLOW_DOWNLOAD_BINARIES", "true")):
        if (env.get(k) or "").lower() != want: err(f"{v}: {k} should be {want}, is {env.get(k)!r}")
    for k in ("DAEMON_HOME", "DAEMON_NAME", "DAEMON_RPC_ADDRESS", "WEMIXVISOR_CHAIN_ID", "WEMIXVISOR_LISTEN",
              "WEMIXVISOR_PEERS", "WV_NAME", "WV_ENDPOINT", "WV_FLEET", "WV_FILES_URL"):
        if not env.get(k): err(f"{v}: {k} is not set")
    if "WEMIXVISOR_VALIDATORS" in env:
        err(f"{v}: WEMIXVISOR_VALIDATORS is set: it would override the set the entry point assembles")
    if env.get("WV_NAME") != v: err(f"{v}: WV_NAME={env.get('WV_NAME')!r}, should be the service name")
    if set((env.get("WV_FLEET") or "").split(",")) != fleet_expected:
        err(f"{v}: WV_FLEET={env.get('WV_FLEET')!r} is not the validator services {sorted(fleet_expected)}")
    chain_ids.add(env.get("WEMIXVISOR_CHAIN_ID"))
    lhost, lport = port_of(env.get("WEMIXVISOR_LISTEN"))
    ehost, eport = port_of(env.get("WV_ENDPOINT"))
    if lport is None or eport is None: err(f"{v}: bad WEMIXVISOR_LISTEN or WV_ENDPOINT"); continue
    if lhost not in ("0.0.0.0", "*"): err(f"{v}: WEMIXVISOR_LISTEN should bind every interface: {env['WEMIXVISOR_LISTEN']}")
    if (ehost, eport) != (v, lport):
        err(f"{v}: WV_ENDPOINT={env['WV_ENDPOINT']} should be tcp://{v}:{lport} (its LISTEN port, its service name)")
    endpoints[v] = env["WV_ENDPOINT"]
    # node and agent: the RPC address is the node's --http.port, --datadir is $DAEMON_HOME/data
    args = command(v)[1:]
    rhost, rport = port_of(env.get("DAEMON_RPC_ADDRESS"))
    if flag(args, "--http.port") != str(rport):
        err(f"{v}: --http.port {flag(args, '--http.port')} is not the port of DAEMON_RPC_ADDRESS {env.get('DAEMON_RPC_ADDRESS')}")
    if rhost not in ("127.0.0.1", "localhost"): err(f"{v}: DAEMON_RPC_ADDRESS should be the node in the container")
    if flag(args, "--datadir") != (env.get("DAEMON_HOME") or "") + "/data":
        err(f"{v}: --datadir {flag(args, '--datadir')} is not $DAEMON_HOME/data")
    mport = port_of(env.get("WEMIXVISOR_METRICS_ADDR"))[1] if env.get("WEMIXVISOR_METRICS_ADDR") else None
    ports = [p for p in (lport, rport, mport) if p]
    if len(ports) != len(set(ports)): err(f"{v}: gossip, RPC and metrics ports collide: {ports}")
    # volumes: its own home, the shared directory
    vols = volumes_of(v)
    home_vol = vols.get(env.get("DAEMON_HOME"))
    if not home_vol: err(f"{v}: DAEMON_HOME {env.get('DAEMON_HOME')} is not on a named volume")
    elif home_vol in homes.values(): err(f"{v}: shares its home volume {home_vol}")
    homes[v] = home_vol
    shared = env.get("WV_SHARED", "/shared")
    if shared not in vols: err(f"{v}: no volume at {shared} (the key exchange)")
    shared_mounts[v] = vols.get(shared)
    # the upgrade comes from the files service
    fh, fp = port_of(env.get("WV_FILES_URL"))
    if (fh, fp) != (filesvc, fport): err(f"{v}: WV_FILES_URL={env.get('WV_FILES_URL')} is not http://{filesvc}:{fport}")
    # waits for the coordinator's cert: starts after it; Docker waits long enough for the node to stop
    extra = set(filter(None, (env.get("WV_EXTRA_CERTS") or "").split(",")))
    if extra != {env_of(coord).get("WV_NAME")}:
        err(f"{v}: WV_EXTRA_CERTS={env.get('WV_EXTRA_CERTS')!r} should name the coordinator ({env_of(coord).get('WV_NAME')})")
    deps = services[v].get("depends_on") or []
    if coord not in deps: err(f"{v}: should depend on {coord} (it waits for its cert)")
    grace = seconds(env.get("DAEMON_SHUTDOWN_GRACE", "30s")) + 5
    if seconds(services[v].get("stop_grace_period", "10s")) < grace:
        err(f"{v}: stop_grace_period < DAEMON_SHUTDOWN_GRACE + 5 s ({grace}s): Docker would SIGKILL the node")
    t = healthcheck(v)
    if t[:2] != ["wemixvisor", "status"]: err(f"{v}: healthcheck should be `wemixvisor status`: {t}")
    if services[v].get("ports"): err(f"{v}: publishes ports {services[v]['ports']}: the testnet shows only the dashboard")
    # for `wemixvisor config` below: the values must be valid too
    os.makedirs(os.path.join(T, "env"), exist_ok=True)
    with open(os.path.join(T, "env", v), "w") as f:
        f.write("".join(f"{k}={val}\n" for k, val in env.items() if val is not None and not k.startswith("WV_")))

# the mesh: each validator's peers are exactly the others' endpoints
for v in validators:
    peers = env_of(v).get("WEMIXVISOR_PEERS") or ""
    want = sorted(endpoints[o] for o in validators if o != v and o in endpoints)
    if sorted(peers.split(",")) != want: err(f"{v}: WEMIXVISOR_PEERS={peers} should be {','.join(want)}")
    for p in peers.split(","):
        h, pp = port_of(p)
        if h in endpoints and port_of(env_of(h).get("WEMIXVISOR_LISTEN"))[1] != pp:
            err(f"{v}: peer {p}: {h} listens on another port")

# the coordinator
cenv = env_of(coord)
check_vars(coord, cenv, coord_vars, "wvcoord (`wvcoord --help`)")
chain_ids.add(cenv.get("WEMIXVISOR_CHAIN_ID"))
if len(chain_ids) != 1 or None in chain_ids: err(f"WEMIXVISOR_CHAIN_ID differs or is missing: {chain_ids}")
if (cenv.get("WEMIXVISOR_CURVE") or "").lower() != "true": err(f"{coord}: WEMIXVISOR_CURVE should be true")
if sorted((cenv.get("WVCOORD_AGENTS") or "").split(",")) != sorted(endpoints.values()):
    err(f"{coord}: WVCOORD_AGENTS={cenv.get('WVCOORD_AGENTS')} is not the validators' endpoints {sorted(endpoints.values())}")
if set((cenv.get("WV_FLEET") or "").split(",")) != fleet_expected: err(f"{coord}: WV_FLEET is not the validators")
if not cenv.get("WV_NAME"): err(f"{coord}: WV_NAME is not set")
if "WEMIXVISOR_VALIDATORS" in cenv: err(f"{coord}: WEMIXVISOR_VALIDATORS is set: the entry point assembles it")
chost, cport = port_of(cenv.get("WVCOORD_LISTEN", "0.0.0.0:8080"))
if chost != "0.0.0.0": err(f"{coord}: WVCOORD_LISTEN should be 0.0.0.0:PORT to be reachable from the host")
published = []
for p in services[coord].get("ports") or []:
    if isinstance(p, dict): published.append((str(p.get("published")), str(p.get("target"))))
    else:
        parts = str(p).split(":")
        published.append((parts[-2] if len(parts) >= 2 else parts[-1], parts[-1]))
if (str(cport), str(cport)) not in published and ("8080", str(cport)) not in published:
    err(f"{coord}: the dashboard port {cport} is not published: {services[coord].get('ports')}")
ct = healthcheck(coord)
if not any(f":{cport}/healthz" in a for a in ct): err(f"{coord}: the healthcheck does not ask /healthz on {cport}: {ct}")
cvols = volumes_of(coord)
if cenv.get("WV_SHARED", "/shared") not in cvols: err(f"{coord}: no shared volume")
shared_mounts[coord] = cvols.get(cenv.get("WV_SHARED", "/shared"))
if cenv.get("WV_COORD_HOME", "/var/lib/wvcoord") not in cvols:
    err(f"{coord}: its key pair is not on a volume (a new key at every start would lock it out)")
if len(set(shared_mounts.values())) != 1: err(f"not one shared volume: {shared_mounts}")

# the healthchecks' programs are in the image (the runtime section)
for name in services:
    t = healthcheck(name)
    if t and t[0] not in ("wemixvisor", "wvcoord", "docker-entrypoint") and t[0] not in runtime_pkgs:
        err(f"{name}: the healthcheck runs {t[0]}, which is not in the runtime section of scripts/packages.txt")
if "busybox" not in runtime_pkgs and "busybox httpd" in entrypoint: err("busybox is not in the runtime section")

# declared volumes are all used
used = set()
for name in services: used |= set(volumes_of(name).values())
if declared_volumes - used: err(f"volumes declared but not used: {sorted(declared_volumes - used)}")

# the Dockerfile: packages only through scripts/install-deps.sh; every COPY source exists
instr, cur = [], ""
for line in dockerfile.splitlines():
    if not cur and (not line.strip() or line.lstrip().startswith("#")): continue
    cur += line.rstrip("\\") + " "
    if not line.endswith("\\"): instr.append(cur.strip()); cur = ""
stages, run_deps = [], []
for i in instr:
    word = i.split()[0].upper()
    if word == "FROM":
        stages.append(i)
    elif word == "RUN":
        body = i[3:]
        # any package manager run by hand would be a second package list
        if re.search(r"\b(apt-get|apt|aptitude|apk|dnf|yum|pip3?)\b[^&;|]*\b(install|add)\b|\bdpkg\s+(-i|--install)\b", body):
            err(f"Dockerfile installs packages past scripts/install-deps.sh: {i}")
        m = re.search(r"install-deps\.sh\s+--only\s+(\S+)", body)
        if m: run_deps.append((len(stages), m.group(1)))
        if "install-deps.sh" in body and not m: err(f"Dockerfile: install-deps.sh without --only: {i}")
    elif word in ("COPY", "ADD"):
        args = [a for a in i.split()[1:] if not a.startswith("--")]
        if any(a.startswith("--from") for a in i.split()): continue
        for src in args[:-1]:
            if not os.path.exists(os.path.join(top, src)): err(f"Dockerfile: COPY source {src} does not exist")
    for p in re.findall(r"/src/([\w./-]+\.sh)\b", i):
        if not os.path.isfile(os.path.join(top, p)): err(f"Dockerfile: {p} does not exist")
if len(stages) < 2: err("Dockerfile is not multi-stage")
if not all(re.search(r"bookworm", s) or "DEBIAN_IMAGE" in s for s in stages) or "bookworm" not in dockerfile:
    err("Dockerfile stages are not Debian bookworm")
if sorted(o for _, o in run_deps) != ["build", "runtime"] or [n for n, o in run_deps if o == "runtime"] != [len(stages)]:
    err(f"Dockerfile: want install-deps.sh --only build in the build stage and --only runtime in the last: {run_deps}")
if not re.search(r"COPY\s+(--\S+\s+)*docker/entrypoint\.sh\s+/usr/local/bin/docker-entrypoint", dockerfile) or \
        'ENTRYPOINT ["docker-entrypoint"]' not in dockerfile:
    err("Dockerfile: docker/entrypoint.sh is not the entry point docker-entrypoint")
for b in ("wemixvisor", "wvcoord", "fakenode"):
    if not re.search(r"--target\b[^\n]*\b" + b + r"\b", dockerfile): err(f"Dockerfile does not build {b}")
if "CMAKE_BUILD_TYPE=Release" not in dockerfile: err("Dockerfile: not a Release build")
# the genesis release the entry point takes is where the Dockerfile puts it, for DAEMON_NAME
m = re.search(r"WV_GENESIS_BINARY:-([^}]+)\}", entrypoint)
if not m or not re.search(r"COPY --from=build /out/releases/ " + re.escape(os.path.dirname(m.group(1))) + "/", dockerfile):
    err("entrypoint.sh's default WV_GENESIS_BINARY is not where the Dockerfile puts the releases")
fake = read(os.path.join(docker, "fake-releases.sh"))
for v in validators:
    if f"bin/{env_of(v).get('DAEMON_NAME')}" not in fake: err(f"{v}: the v2 tarball has no bin/{env_of(v).get('DAEMON_NAME')}")

# the runtime section holds the package of every library the binaries link
for line in read(os.path.join(T, "needed.txt")).splitlines():
    soname, pkg = (line.split() + [""])[:2]
    if not pkg: err(f"no Debian package owns {soname}"); continue
    if pkg not in runtime_pkgs and pkg != "libc6":
        err(f"the binaries link {soname} from {pkg}, which is not in the runtime section of scripts/packages.txt")

# the documentation says how to run it
testnet = os.path.join(top, "docs", "testnet.md")
if not os.path.isfile(testnet) or "## Docker testnet" not in read(testnet):
    err("docs/testnet.md has no `## Docker testnet` section")
elif "docker compose -f docker/docker-compose.yml up --build" not in read(testnet):
    err("docs/testnet.md does not give `docker compose -f docker/docker-compose.yml up --build`")

if errors:
    print("\n".join(errors), file=sys.stderr); sys.exit(1)
print(f"docker-compose.yml: {len(validators)} validators, {coord}, {filesvc}; Dockerfile: {len(stages)} stages")
PY

# every validator's settings are valid: `wemixvisor config` with exactly that environment exits 0
for f in "$T"/env/*; do
  mapfile -t vars <"$f"
  env -i PATH="$PATH" "${vars[@]}" "$WEMIXVISOR" config >"$T/config.out" 2>&1 ||
    fail "$(basename "$f"): wemixvisor config refuses its environment: $(cat "$T/config.out")"
done

# the runtime section is no empty guess: it was compared with real binaries (unless dpkg is absent)
if command -v dpkg-query >/dev/null; then
  [ -s "$T/needed.txt" ] || fail "found no library the binaries link (ldd, objdump)"
fi

if command -v shellcheck >/dev/null; then
  shellcheck "$top"/docker/*.sh "$top/scripts/install-deps.sh" || fail "shellcheck docker/*.sh"
else
  echo "(no shellcheck: not run)"
fi

if docker compose version >/dev/null 2>&1; then
  docker compose -f "$top/docker/docker-compose.yml" config -q || fail "docker compose config"
elif command -v docker-compose >/dev/null && [[ $(docker-compose version --short 2>/dev/null) == [2-9]* ]]; then
  docker-compose -f "$top/docker/docker-compose.yml" config -q || fail "docker-compose config"
else
  echo "(no Docker Compose v2: config -q not run)"
fi
echo "PASS test_docker_files"
