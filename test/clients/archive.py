#!/usr/bin/python3
# docker-py (Debian's python3-docker) put_archive/get_archive on a path inside a named volume
# mounted at /vol1, by container name and by id, running and stopped. Prints one JSON object.
import io, json, sys, tarfile
import docker

name, vol = sys.argv[1], sys.argv[2]
c = docker.from_env(version='1.41')
api = c.api

def tar_of(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w') as t:
        for n, data in files.items():
            info = tarfile.TarInfo(n)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()

def read_member(ref, path):
    stream, stat = api.get_archive(ref, path)
    buf = io.BytesIO(b''.join(stream))
    with tarfile.open(fileobj=buf) as t:
        m = t.getmembers()[0]
        return {'name': m.name, 'data': t.extractfile(m).read().decode(), 'stat_name': stat['name'], 'stat_size': stat['size']}

ctr = c.containers.run('busybox', ['sleep', '600'], detach=True, name=name, volumes={vol: {'bind': '/vol1', 'mode': 'rw'}})
out = {}
try:
    out['put_running'] = api.put_archive(name, '/vol1', tar_of({'data.txt': b'hello volume\n'}))
    out['get_running_by_name'] = read_member(name, '/vol1/data.txt')
    out['get_running_by_id'] = read_member(ctr.id, '/vol1/data.txt')
    out['seen_inside'] = ctr.exec_run(['cat', '/vol1/data.txt']).output.decode()
    ctr.stop(timeout=0)
    out['put_stopped'] = api.put_archive(ctr.id, '/vol1', tar_of({'later.txt': b'written while stopped\n'}))
    out['get_stopped'] = read_member(name, '/vol1/later.txt')
    try:
        api.get_archive(name, '/vol1/missing.txt')
        out['missing'] = 'found?'
    except docker.errors.NotFound as e:
        out['missing'] = str(e.explanation)
    print(json.dumps(out))
finally:
    ctr.remove(force=True)
