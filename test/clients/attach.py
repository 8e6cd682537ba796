#!/usr/bin/python3
# docker-py (Debian's python3-docker) attach_socket(stdin=1, stream=1) against the daemon named by
# DOCKER_HOST: commands written after attach run and their output comes back (attached before and
# after start), a tty echoes 1000 bytes, a non-tty stream carries 5000 bytes, and a tty client
# detaches with ctrl-p ctrl-q, with detachKeys= and with detachKeys from its config.json
# (DOCKER_CONFIG); logs=1 replays what came before. Prints one JSON object.
import json, socket, sys, time
import docker

prefix = sys.argv[1]
only_config = len(sys.argv) > 2 and sys.argv[2] == 'config'  # run again with config.json's detachKeys
api = docker.from_env(version='1.41').api  # DOCKER_HOST; config.json from DOCKER_CONFIG
out = {}
made = []

def create(name, cmd, tty):
    ct = api.create_container('busybox', cmd, stdin_open=True, tty=tty, name=f'{prefix}-{name}')
    made.append(ct['Id'])
    return ct['Id']

def sock_of(ct, **params):
    s = api.attach_socket(ct, params={'stdin': 1, 'stdout': 1, 'stderr': 1, 'stream': 1, **params})
    raw = s._sock
    raw.settimeout(15)
    return raw

def read_until(raw, pred, limit=15):
    data = b''
    deadline = time.time() + limit
    while time.time() < deadline and not pred(data):
        try:
            d = raw.recv(65536)
        except socket.timeout:
            break
        if not d:
            break
        data += d
    return data

def frames(buf):
    out, i = b'', 0
    while i + 8 <= len(buf):
        n = int.from_bytes(buf[i + 4:i + 8], 'big')
        out += buf[i + 8:i + 8 + n]
        i += 8 + n
    return out

def detach(name, keys, **params):
    ct = create(name, ['cat'], True)
    api.start(ct)
    s = api.attach_socket(ct, params={'stdin': 1, 'stream': 1, **params})
    raw = s._sock
    raw.settimeout(10)
    for k in keys:
        raw.sendall(k)
        time.sleep(0.3)
    closed = False
    try:
        for _ in range(20):
            raw.sendall(b'make sure the socket is closed\n')
            if raw.recv(128) == b'':
                closed = True
                break
    except (BrokenPipeError, ConnectionResetError):
        closed = True
    except socket.timeout:
        closed = False
    return {'closed': closed, 'running': api.inspect_container(ct)['State']['Running']}

try:
    if only_config:
        out['config_keys'] = api._general_configs.get('detachKeys')
        out['detach_config'] = detach('dc', [b'\x01', b'\x02'])
        out['default_keys_ignored'] = detach('dcd', [b'\x10', b'\x11'])
        print(json.dumps(out))
        sys.exit(0)
    # attach after start, non-tty: a command runs, output framed, exit code kept
    ct = create('after', ['sh'], False)
    api.start(ct)
    raw = sock_of(ct)
    raw.sendall(b'echo hello from $0; exit 3\n')
    out['after_start'] = frames(read_until(raw, lambda d: False)).decode()
    out['after_start_code'] = api.wait(ct, timeout=15)['StatusCode']

    # attach before start
    ct = create('before', ['sh'], False)
    raw = sock_of(ct)
    api.start(ct)
    raw.sendall(b'echo before start; exit 4\n')
    out['before_start'] = frames(read_until(raw, lambda d: False)).decode()
    out['before_start_code'] = api.wait(ct, timeout=15)['StatusCode']

    # logs=1: what the container wrote before the attach comes first, then the stream
    ct = create('logs', ['sh', '-c', 'echo early; read x; echo late $x'], False)
    api.start(ct)
    deadline = time.time() + 15
    while b'early' not in api.logs(ct) and time.time() < deadline:
        time.sleep(0.1)
    s = api.attach_socket(ct, params={'stdin': 1, 'stdout': 1, 'stderr': 1, 'stream': 1, 'logs': 1})
    s._sock.settimeout(15)
    s._sock.sendall(b'go\n')
    # the replay follows the response head at once: part of it may sit in http.client's buffer
    reader, data = s._response.raw._fp.fp, b''
    while True:
        d = reader.read1(65536)
        if not d:
            break
        data += d
    out['logs_replay'] = frames(data).decode()

    # tty: 1000 bytes echoed by the terminal and written back by cat
    ct = create('tty', ['cat'], True)
    api.start(ct)
    raw = sock_of(ct)
    raw.sendall(b'x' * 1000 + b'\n')
    got = read_until(raw, lambda d: d.count(b'x') >= 2000)
    out['tty_echo_x'] = got.count(b'x')

    # non-tty: 5000 bytes through cat
    ct = create('notty', ['cat'], False)
    api.start(ct)
    raw = sock_of(ct)
    raw.sendall(b'y' * 5000)
    got = frames(read_until(raw, lambda d: frames(d).count(b'y') >= 5000))
    out['notty_y'] = got.count(b'y')

    # detach: the daemon closes the connection, the container keeps running
    out['detach_default'] = detach('dd', [b'\x10', b'\x11'])
    out['detach_arg'] = detach('da', [b'\x18'], detachKeys='ctrl-x')
    out['no_detach_on_other_keys'] = detach('dn', [b'\x10', b'a'])
    print(json.dumps(out))
finally:
    for ct in made:
        try:
            api.remove_container(ct, force=True)
        except Exception:
            pass
