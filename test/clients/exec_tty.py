#!/usr/bin/python3
# docker-py (Debian's python3-docker) exec_run against the daemon named by DOCKER_HOST: with and
# without a tty (plain HTTP exec start, no hijack), streamed or not, and a file that is not
# executable and one that does not exist. Prints one JSON object; the node test asserts on it.
import base64, json, sys
import docker

c = docker.from_env(version='1.41')
ctr = c.containers.run('busybox', ['sleep', '600'], detach=True, name=sys.argv[1])
try:
    out = {}
    def res(r):
        return {'code': r.exit_code, 'output': base64.b64encode(r.output).decode()}
    out['tty'] = res(ctr.exec_run(['echo', 'hello'], tty=True))
    out['notty'] = res(ctr.exec_run(['echo', 'hello'], tty=False))
    out['tty_stream'] = base64.b64encode(b''.join(ctr.exec_run(['echo', 'hello'], tty=True, stream=True).output)).decode()
    out['notty_stream'] = base64.b64encode(b''.join(ctr.exec_run(['echo', 'hello'], tty=False, stream=True).output)).decode()
    out['not_executable'] = res(ctr.exec_run(['/etc/passwd']))
    out['not_found'] = res(ctr.exec_run(['/no/such/program']))
    out['tty_is_a_tty'] = res(ctr.exec_run(['sh', '-c', 'test -t 1 && echo yes'], tty=True))
    print(json.dumps(out))
finally:
    ctr.remove(force=True)
