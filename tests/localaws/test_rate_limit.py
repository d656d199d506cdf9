"""The Route 53 request rate limit: off by default; when on, one token bucket
for every Route 53 operation, answered before faults and outside the state
lock; set at start-up or through ``/_localaws/limits``.  See README.md,
"Route 53 rate limit"."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import botocore.exceptions
import pytest

from conftest import NO_RETRY, SERVER, ZONE, all_record_sets, change, client, control, make_zone, srv


def back_to_back(call, n):
    """n calls in a row: their outcomes ("ok" or the error code) and the span
    from just before the first was sent to just after the last was answered."""
    outcomes = []
    started = time.monotonic()
    for _ in range(n):
        try:
            call()
            outcomes.append("ok")
        except botocore.exceptions.ClientError as err:
            outcomes.append(err.response["Error"]["Code"])
    return outcomes, time.monotonic() - started


def assert_burst_then_throttled(outcomes, span, burst, rate):
    """The first `burst` calls pass and the rest are throttled. The client-side
    span bounds the server's, so it also bounds how many tokens can have been
    refilled meanwhile: none while it is under 1/rate (always, on an unloaded
    machine), which makes the check exact."""
    refilled = int(span * rate)
    assert outcomes[:burst] == ["ok"] * burst, outcomes
    assert set(outcomes[burst:]) <= {"ok", "Throttling"}, outcomes
    assert outcomes.count("ok") <= burst + refilled, (outcomes, span)
    if refilled == 0:
        assert outcomes == ["ok"] * burst + ["Throttling"] * (len(outcomes) - burst)


def test_route53_rate_limit_is_off_by_default(endpoint):
    assert control(endpoint, "GET", "limits") == {"route53": None}
    r53 = client(endpoint, "route53", NO_RETRY)
    outcomes, _ = back_to_back(r53.list_hosted_zones, 30)
    assert outcomes == ["ok"] * 30
    assert control(endpoint, "GET", "throttled") == {}


def test_route53_rate_limit_burst_then_refill(endpoint):
    r53 = client(endpoint, "route53", NO_RETRY)
    zone_id = make_zone(r53)
    assert control(endpoint, "POST", "limits", {"route53": {"rate": 5, "burst": 5}}) == {
        "route53": {"rate": 5, "burst": 5, "tokens": 5.0}}
    control(endpoint, "DELETE", "calls")

    # ListHostedZones and ListResourceRecordSets draw on the same bucket
    calls = [r53.list_hosted_zones, lambda: r53.list_resource_record_sets(HostedZoneId=zone_id)]
    outcomes, started = [], time.monotonic()
    for i in range(20):
        try:
            calls[i % 2]()
            outcomes.append("ok")
        except botocore.exceptions.ClientError as err:
            outcomes.append(err.response["Error"]["Code"])
            assert err.response["Error"] == {"Type": "Sender", "Code": "Throttling", "Message": "Rate exceeded"}
            assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert_burst_then_throttled(outcomes, time.monotonic() - started, burst=5, rate=5)
    passed = outcomes.count("ok")

    calls_seen = control(endpoint, "GET", "calls")
    throttled = control(endpoint, "GET", "throttled")
    assert calls_seen == {"route53:ListHostedZones": 10, "route53:ListResourceRecordSets": 10}
    assert sum(throttled.values()) == 20 - passed
    assert set(throttled) <= {"route53:ListHostedZones", "route53:ListResourceRecordSets"}

    # one second later the bucket is full again: 5 more pass, then throttled
    time.sleep(1.0)
    outcomes, span = back_to_back(r53.list_hosted_zones, 8)
    assert_burst_then_throttled(outcomes, span, burst=5, rate=5)
    assert sum(control(endpoint, "GET", "throttled").values()) == 20 - passed + outcomes.count("Throttling")
    assert sum(control(endpoint, "GET", "calls").values()) == 28

    # DELETE calls zeroes the throttled counters too
    control(endpoint, "DELETE", "calls")
    assert control(endpoint, "GET", "calls") == {} and control(endpoint, "GET", "throttled") == {}


def test_route53_rate_limit_spares_ecs_and_ec2(endpoint):
    r53, ecs, ec2 = (client(endpoint, s, NO_RETRY) for s in ("route53", "ecs", "ec2"))
    control(endpoint, "POST", "limits", {"route53": {"rate": 0.01, "burst": 1}})
    r53.list_hosted_zones()  # the one token
    ecs.create_cluster(clusterName="web")
    for _ in range(15):
        ecs.list_tasks(cluster="web")
        ec2.describe_instances()
    with pytest.raises(botocore.exceptions.ClientError) as info:
        r53.list_hosted_zones()
    assert info.value.response["Error"]["Code"] == "Throttling"
    assert control(endpoint, "GET", "throttled") == {"route53:ListHostedZones": 1}
    calls = control(endpoint, "GET", "calls")
    assert (calls["ecs:ListTasks"], calls["ec2:DescribeInstances"], calls["route53:ListHostedZones"]) == (15, 15, 2)


def test_route53_rate_limit_every_operation_shares_one_bucket(endpoint):
    r53 = client(endpoint, "route53", NO_RETRY)
    zone_id = make_zone(r53)
    change_id = change(r53, zone_id, ("CREATE", srv("h:1")))["ChangeInfo"]["Id"]
    control(endpoint, "POST", "hooks/before-change", {"zoneId": zone_id, "changes": [
        {"action": "UPSERT", "record": srv("h:other")}]})
    control(endpoint, "POST", "limits", {"route53": {"rate": 0.01, "burst": 3}})
    r53.get_hosted_zone(Id=zone_id)
    r53.list_hosted_zones_by_name(DNSName=ZONE)
    r53.get_change(Id=change_id)
    assert control(endpoint, "GET", "limits")["route53"]["tokens"] < 1
    for op in (lambda: change(r53, zone_id, ("CREATE", srv("h:2"))), lambda: r53.get_hosted_zone(Id=zone_id),
               lambda: r53.list_hosted_zones_by_name(DNSName=ZONE), lambda: r53.get_change(Id=change_id),
               lambda: r53.list_resource_record_sets(HostedZoneId=zone_id)):
        with pytest.raises(botocore.exceptions.ClientError) as info:
            op()
        assert info.value.response["Error"]["Code"] == "Throttling"
    assert control(endpoint, "GET", "throttled") == {
        "route53:ChangeResourceRecordSets": 1, "route53:GetChange": 1, "route53:GetHostedZone": 1,
        "route53:ListHostedZonesByName": 1, "route53:ListResourceRecordSets": 1}
    # the throttled change was not applied and did not fire the before-change hook
    assert control(endpoint, "GET", "hooks")["pending"] == {zone_id: 1}
    control(endpoint, "POST", "limits", {"route53": None})
    sids = [r.get("SetIdentifier") for r in all_record_sets(r53, zone_id)[0]]
    assert "h:1" in sids and "h:2" not in sids and "h:other" not in sids


def test_route53_throttle_comes_before_faults(endpoint):
    """The limit answers a request before any fault sees it: a throttled
    request uses up no fault."""
    r53 = client(endpoint, "route53", NO_RETRY)
    fault = {"service": "route53", "operation": "ListHostedZones", "status": 503, "code": "ServiceUnavailable", "count": 1}
    control(endpoint, "POST", "limits", {"route53": {"rate": 0.01, "burst": 1}})
    control(endpoint, "POST", "faults", {"faults": [fault]})
    for expected in ("ServiceUnavailable", "Throttling", "Throttling"):  # the token, then none
        with pytest.raises(botocore.exceptions.ClientError) as info:
            r53.list_hosted_zones()
        assert info.value.response["Error"]["Code"] == expected
    assert control(endpoint, "GET", "faults") == {"faults": []}
    control(endpoint, "POST", "faults", {"faults": [fault]})
    with pytest.raises(botocore.exceptions.ClientError) as info:
        r53.list_hosted_zones()
    assert info.value.response["Error"]["Code"] == "Throttling"
    assert control(endpoint, "GET", "faults")["faults"][0]["count"] == 1  # still armed
    control(endpoint, "POST", "limits", {"route53": None})
    with pytest.raises(botocore.exceptions.ClientError) as info:
        r53.list_hosted_zones()
    assert info.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert control(endpoint, "GET", "throttled") == {"route53:ListHostedZones": 3}


def test_route53_throttle_wire_format(endpoint):
    control(endpoint, "POST", "limits", {"route53": {"rate": 0.01, "burst": 1}})
    client(endpoint, "route53", NO_RETRY).list_hosted_zones()  # the one token
    # a throttled request never reaches moto, so it need not even be signed
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{endpoint}/2013-04-01/hostedzone", timeout=10)
    err = info.value
    body = err.read().decode()
    assert err.code == 400 and err.headers["Content-Type"] == "text/xml" and err.headers["x-amzn-RequestId"]
    assert body.startswith('<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
                           "<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
                           "<RequestId>")
    assert control(endpoint, "GET", "throttled") == {"route53:ListHostedZones": 1}


def test_route53_rate_limit_off_and_reset(endpoint):
    r53 = client(endpoint, "route53", NO_RETRY)
    control(endpoint, "POST", "limits", {"route53": {"rate": 0.01, "burst": 2}})
    outcomes, _ = back_to_back(r53.list_hosted_zones, 4)
    assert outcomes == ["ok", "ok", "Throttling", "Throttling"]
    # switched off: nothing is throttled; the throttled counters stay
    assert control(endpoint, "POST", "limits", {"route53": None}) == {"route53": None}
    outcomes, _ = back_to_back(r53.list_hosted_zones, 10)
    assert outcomes == ["ok"] * 10
    assert control(endpoint, "GET", "throttled") == {"route53:ListHostedZones": 2}
    # on again: a new, full bucket
    control(endpoint, "POST", "limits", {"route53": {"rate": 0.01, "burst": 2}})
    assert back_to_back(r53.list_hosted_zones, 3)[0] == ["ok", "ok", "Throttling"]
    # {} changes nothing; reset restores the default (off for this server) and zeroes the counters
    assert control(endpoint, "POST", "limits", {})["route53"]["burst"] == 2
    control(endpoint, "POST", "reset")
    assert control(endpoint, "GET", "limits") == {"route53": None}
    assert control(endpoint, "GET", "throttled") == {}
    assert back_to_back(r53.list_hosted_zones, 5)[0] == ["ok"] * 5


def test_route53_rate_limit_validation(endpoint):
    for body in ({"route53": {"burst": 5}}, {"route53": {"rate": 0}}, {"route53": {"rate": -1}},
                 {"route53": {"rate": True}}, {"route53": {"rate": "5"}}, {"route53": {"rate": 5, "burst": 0}},
                 {"route53": {"rate": 5, "burst": 2.5}}, {"route53": {"rate": 5, "bust": 5}},
                 {"route53": 5}, {"ecs": {"rate": 5}}):
        assert "error" in control(endpoint, "POST", "limits", body, expect=400), body
    assert control(endpoint, "GET", "limits") == {"route53": None}
    # burst defaults to the rate rounded up
    assert control(endpoint, "POST", "limits", {"route53": {"rate": 2.5}})["route53"] == {
        "rate": 2.5, "burst": 3, "tokens": 3.0}


def start_server(*args, env=None):
    proc = subprocess.Popen([sys.executable, SERVER, "--port", "0", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    line = proc.stdout.readline().strip()
    return proc, line


def test_route53_rate_limit_from_flag_and_environment():
    env = {"LOCALAWS_ROUTE53_RATE": "9", "LOCALAWS_ROUTE53_BURST": "5"}
    proc, line = start_server("--route53-rate", "4", env=env)  # the flag wins over the environment
    try:
        assert line.startswith("localaws listening on http://127.0.0.1:"), (line, proc.stderr.read())
        url = line.rsplit(" ", 1)[1]
        limit = {"rate": 4, "burst": 5, "tokens": 5.0}
        assert control(url, "GET", "limits") == {"route53": limit}
        r53 = client(url, "route53", NO_RETRY)
        assert back_to_back(r53.list_hosted_zones, 6)[0][:5] == ["ok"] * 5
        control(url, "POST", "limits", {"route53": None})
        control(url, "POST", "reset")  # restores the start-up limit, full
        assert control(url, "GET", "limits") == {"route53": limit}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.parametrize("args,env,message", [
    (["--route53-rate", "0"], {}, "rate must be a number of requests per second > 0"),
    (["--route53-rate", "fast"], {}, "'fast' is not a number"),
    (["--route53-burst", "5"], {}, "needs --route53-rate"),
    ([], {"LOCALAWS_ROUTE53_RATE": "5", "LOCALAWS_ROUTE53_BURST": "1.5"}, "'1.5' is not a whole number"),
])
def test_route53_rate_limit_bad_flags(args, env, message):
    done = subprocess.run([sys.executable, SERVER, "--port", "0", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=60)
    assert done.returncode == 2 and done.stdout == "" and message in done.stderr, done


def test_token_bucket_with_a_fake_clock():
    import ratelimit

    now = [100.0]
    bucket = ratelimit.TokenBucket(5, 5, clock=lambda: now[0])
    assert [bucket.take() for _ in range(6)] == [True] * 5 + [False]
    now[0] += 0.199
    assert not bucket.take()
    now[0] += 0.001  # 0.2 s after the bucket ran dry: one token
    assert bucket.take() and not bucket.take()
    now[0] += 60  # refills stop at the burst
    assert [bucket.take() for _ in range(6)] == [True] * 5 + [False]
    assert bucket.describe() == {"rate": 5, "burst": 5, "tokens": 0.0}


def test_throttled_request_does_not_wait_for_the_state_lock():
    """In-process: while STATE_LOCK is held, a request the bucket lets through
    waits for it, but a throttled one is answered at once."""
    import control as localaws_control
    from werkzeug.test import EnvironBuilder

    def moto_app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/xml")])
        return [b"<ok/>"]

    app = localaws_control.LocalAws(moto_app, {"rate": 0.01, "burst": 1})
    results = {}

    def request(name):
        status = []
        body = app(EnvironBuilder(path="/2013-04-01/hostedzone", method="GET").get_environ(),
                   lambda s, h: status.append(s))
        results[name] = (status[0], b"".join(body))

    with localaws_control.STATE_LOCK:
        first = threading.Thread(target=request, args=("first",))
        first.start()
        time.sleep(0.2)
        assert "first" not in results  # took the token, waits for the lock
        second = threading.Thread(target=request, args=("second",))
        second.start()
        second.join(2)
        assert not second.is_alive()
        assert results["second"][0] == "400 Bad Request" and b"<Code>Throttling</Code>" in results["second"][1]
        assert app.calls == {"route53:ListHostedZones": 2} and app.throttled == {"route53:ListHostedZones": 1}
    first.join(2)
    assert results["first"] == ("200 OK", b"<ok/>")
