#!/usr/bin/python3
# docker-py (Debian's python3-docker), unmodified, against the daemon named by DOCKER_HOST: issue 13's
# defect list, one group per argument (swarm, run, create, diff_link, filters, load, networks).
# Each group records what the client saw and prints one JSON object as its last line; the node test
# (test/e2e/docker-py-defects.test.ts) asserts on it. Names start with argv[2] so runs never collide.
import base64, json, sys
import docker
from docker.errors import APIError, ImageLoadError, NotFound

c = docker.from_env(version='1.41')
group, pfx = sys.argv[1], sys.argv[2]
out = {}
cleanup = []


def err(fn):
    """Calls fn; returns {'ok': result} or the APIError's status and message."""
    try:
        return {'ok': fn()}
    except APIError as e:
        return {'status': e.status_code, 'message': e.explanation}


def b64(b):
    return base64.b64encode(b).decode()


def swarm():
    out['leave_force'] = c.swarm.leave(force=True)  # docker-py treats 503 as "not in a swarm": True
    out['leave'] = err(lambda: c.swarm.leave())
    out['swarm'] = err(lambda: c.api.inspect_swarm())
    out['nodes'] = err(lambda: c.nodes.list())
    out['services'] = err(lambda: c.services.list())
    out['tasks'] = err(lambda: c.api.tasks())
    out['secrets'] = err(lambda: c.secrets.list())
    out['configs'] = err(lambda: c.configs.list())
    r = c.api._get(c.api._url('/no/such/endpoint'))
    out['unknown'] = {'status': r.status_code}


def run():
    vol = pfx + '-runvol'
    cleanup.append(lambda: c.volumes.get(vol).remove(force=True))
    out['remove'] = b64(c.containers.run('busybox', 'echo hello world', remove=True))
    out['auto_remove'] = b64(c.containers.run('busybox', 'echo hello world', auto_remove=True))
    out['volumes'] = b64(
        c.containers.run('busybox', ['sh', '-c', 'echo in-volume > /v/f; cat /v/f'], remove=True,
                         volumes={vol: {'bind': '/v', 'mode': 'rw'}}))
    out['stream'] = b64(b''.join(c.containers.run('busybox', ['sh', '-c', 'echo one; echo two'], stream=True,
                                                  remove=True)))
    ctr = c.containers.create('busybox', 'true', name=pfx + '-logcfg')
    cleanup.append(lambda: ctr.remove(force=True))
    out['default_log_type'] = ctr.attrs['HostConfig']['LogConfig']['Type']
    out['bogus_log_type'] = err(lambda: c.containers.create(
        'busybox', 'true', log_config=docker.types.LogConfig(type='no-such-driver')).id)


def create():
    r = c.containers.run('busybox', ['sh', '-c', 'env; id -G'], name=pfx + '-env', detach=True,
                         environment=['Foo', 'BAR=1'], group_add=['nobody', '4242'])
    cleanup.append(lambda: r.remove(force=True))
    r.wait()
    r.reload()
    out['env_config'] = r.attrs['Config']['Env']
    out['env_output'] = r.logs().decode()
    out['group_add'] = r.attrs['HostConfig']['GroupAdd']
    mac = '02:42:0a:aa:bb:cc'
    m = c.containers.create('busybox', ['cat', '/sys/class/net/eth0/address'], name=pfx + '-mac',
                            mac_address=mac)
    cleanup.append(lambda: m.remove(force=True))
    m.start()
    m.wait()
    out['mac_config'] = m.attrs['Config'].get('MacAddress')
    out['mac_seen'] = m.logs().decode().strip()
    probe = 'mknod /tmp/d42 c 42 0 && cat /tmp/d42 2>&1; true'
    out['device_closed'] = c.containers.run('busybox', ['sh', '-c', probe], remove=True).decode()
    out['device_rule'] = c.containers.run('busybox', ['sh', '-c', probe], remove=True,
                                          device_cgroup_rules=['c 42:* rmw']).decode()


def diff_link():
    ctr = c.containers.run('busybox', ['sh', '-c', 'mkdir /made; echo x > /made/file; sleep 600'],
                           name=pfx + '-diff', detach=True)
    cleanup.append(lambda: ctr.remove(force=True))
    for _ in range(50):
        if ctr.exec_run(['test', '-f', '/made/file']).exit_code == 0:
            break
    out['diff'] = ctr.diff()
    child = c.containers.run('busybox', ['sleep', '600'], name=pfx + '-child', detach=True,
                             links={ctr.name: 'parent-alias'})
    cleanup.append(lambda: child.remove(force=True))
    child.reload()
    out['links_before'] = child.attrs['HostConfig']['Links']
    out['rm_link'] = err(lambda: c.api.remove_container(child.name + '/parent-alias', link=True))
    child.reload()
    out['links_after'] = child.attrs['HostConfig']['Links']
    out['child_alive'] = child.status
    out['rm_missing_link'] = err(lambda: c.api.remove_container(child.name + '/nothing', link=True))


def filters():
    a, b = pfx + '-a', pfx + '-b'
    ca = c.containers.create('busybox', 'true', name=a, labels={'k1': 'v', pfx: 'x'})
    cb = c.containers.create('busybox', 'true', name=b, labels={'k1': 'v'})
    cleanup.append(lambda: ca.remove(force=True))
    cleanup.append(lambda: cb.remove(force=True))
    out['containers_and'] = sorted(x.name for x in c.containers.list(all=True, filters={'label': ['k1=v', pfx + '=x']}))
    out['containers_one'] = sorted(x.name for x in c.containers.list(all=True, filters={'label': ['k1=v']}))
    va = c.volumes.create(a, labels={'k1': 'v', pfx: 'x'})
    vb = c.volumes.create(b, labels={'k1': 'v'})
    cleanup.append(lambda: va.remove(force=True))
    cleanup.append(lambda: vb.remove(force=True))
    out['volumes_and'] = sorted(v.name for v in c.volumes.list(filters={'label': ['k1=v', pfx + '=x']}))
    na = c.networks.create(a, labels={'k1': 'v', pfx: 'x'})
    nb = c.networks.create(b, labels={'k1': 'v'})
    cleanup.append(lambda: na.remove())
    cleanup.append(lambda: nb.remove())
    out['networks_and'] = sorted(n.name for n in c.networks.list(filters={'label': ['k1=v', pfx + '=x']}))
    # images: a commit of each container, labelled
    ia = ca.commit(repository=a, tag='1', conf={'Labels': {'k1': 'v', pfx: 'x'}})
    ib = cb.commit(repository=b, tag='1', conf={'Labels': {'k1': 'v'}})
    cleanup.append(lambda: c.images.remove(a + ':1', force=True))
    cleanup.append(lambda: c.images.remove(b + ':1', force=True))
    out['images_and'] = sorted(t for i in c.images.list(filters={'label': ['k1=v', pfx + '=x']}) for t in i.tags)
    out['images_one'] = sorted(t for i in c.images.list(filters={'label': ['k1=v']}) for t in i.tags)


def load():
    name = pfx + '-loaded:1'
    c.images.get('busybox').tag(name)
    cleanup.append(lambda: c.images.remove(name, force=True))
    chunks = list(c.api.get_image(name))  # GET /images/NAME/get: the archive names NAME
    c.images.remove(name)
    # a generator body: requests sends it chunked, without Content-Length
    loaded = c.images.load(x for x in chunks)
    out['loaded_tags'] = sorted(t for i in loaded for t in i.tags)
    try:
        c.images.load(x for x in [b'this is not a tar archive\n'])
        out['bad_load'] = 'accepted'
    except ImageLoadError as e:
        out['bad_load'] = {'ImageLoadError': str(e)}
    except APIError as e:
        out['bad_load'] = {'status': e.status_code, 'message': e.explanation}


def networks():
    n1 = pfx + '-net'
    net = c.networks.create(n1, check_duplicate=True, labels={'made.by': 'docker-py'})
    cleanup.append(lambda: net.remove())
    out['duplicate'] = err(lambda: c.networks.create(n1, check_duplicate=True).id)
    # docker-py checks the type itself; the same request as a client that does not (dockerode, curl)
    out['bad_labels'] = err(lambda: c.api._result(c.api._post_json(
        c.api._url('/networks/create'), data={'Name': pfx + '-badlab', 'Labels': ['not', 'a', 'map']}), json=True))
    out['host_driver'] = err(lambda: c.api.create_network(pfx + '-host', driver='host'))
    net.reload()
    subnet = net.attrs['IPAM']['Config'][0]['Subnet']
    base = subnet.rsplit('.', 1)[0]
    # aliases on create (networking_config) and on connect with an IPAMConfig address
    srv = c.api.create_container(
        'busybox', ['sh', '-c', 'echo served > /tmp/i; exec httpd -f -p 80 -h /tmp'], name=pfx + '-srv',
        networking_config=c.api.create_networking_config({n1: c.api.create_endpoint_config(aliases=['on-create'])}),
        host_config=c.api.create_host_config(network_mode=n1))
    cleanup.append(lambda: c.api.remove_container(srv, force=True))
    c.api.start(srv)
    # a running container on the default bridge, connected with a fixed address and an alias
    peer = c.containers.run('busybox', ['sleep', '600'], name=pfx + '-peer', detach=True)
    cleanup.append(lambda: peer.remove(force=True))
    fixed = base + '.77'
    net.connect(peer, ipv4_address=fixed, aliases=['on-connect'])
    peer.reload()
    ep = peer.attrs['NetworkSettings']['Networks'][n1]
    out['connect_ip'] = ep['IPAddress']
    out['connect_ipam'] = ep['IPAMConfig']
    out['connect_aliases'] = ep['Aliases']
    out['fixed'] = fixed
    out['peer_ips'] = peer.exec_run(['sh', '-c', "ip -4 -o addr | awk '{print $4}'"]).output.decode().split()
    out['by_create_alias'] = peer.exec_run(['wget', '-qO-', 'http://on-create/i']).output.decode()
    srv_c = c.containers.get(srv['Id'])
    out['by_connect_alias'] = srv_c.exec_run(['ping', '-c1', '-W2', 'on-connect']).output.decode()
    other = c.containers.create('busybox', 'true', name=pfx + '-ll')
    cleanup.append(lambda: other.remove(force=True))
    out['link_local'] = err(lambda: net.connect(other, link_local_ips=['169.254.10.10']))


try:
    globals()[group]()
    print(json.dumps(out))
finally:
    for f in reversed(cleanup):
        try:
            f()
        except (APIError, NotFound):
            pass
