from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import ECKey

from runtime.auth import KeyRing, KeyRingError, KeyRingSource
from runtime.auth.keys import MAX_RETIRING, new_signing_key
from tests.unit.runtime.auth.conftest import NOW, FakeClock


def test_a_generated_ring_is_a_private_0600_file_with_an_active_and_a_next_key(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keys.json"
    ring = KeyRing.generate(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document["active"] == ring.active_kid
    assert document["next"] == ring.next_kid != ring.active_kid
    assert document["retiring"] == {}
    for jwk in document["keys"]:
        assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("EC", "P-256", "ES256", "sig")
        assert "d" in jwk
        assert jwk["kid"] == ECKey.import_key(jwk).thumbprint()
    assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]


def test_generate_refuses_to_overwrite_an_existing_ring(ring_path: Path) -> None:
    before = ring_path.read_bytes()
    with pytest.raises(KeyRingError, match="already exists"):
        KeyRing.generate(ring_path)
    assert ring_path.read_bytes() == before
    assert [p.name for p in ring_path.parent.iterdir()] == [ring_path.name]


def test_a_loaded_ring_signs_with_its_active_key(ring_path: Path) -> None:
    ring = KeyRing.load(ring_path)
    assert ring.signing_key().kid == ring.active_kid
    assert ring.signing_key().is_private


def test_verification_keys_are_public_and_only_for_known_kids(ring_path: Path) -> None:
    ring = KeyRing.load(ring_path)
    active = ring.verification_key(ring.active_kid, NOW)
    assert active is not None and not active.is_private
    assert ring.next_kid is not None and ring.verification_key(ring.next_kid, NOW) is not None
    assert ring.verification_key("no-such-kid", NOW) is None


def test_a_ring_builds_each_public_key_once(ring_path: Path) -> None:
    ring = KeyRing.load(ring_path)
    key = ring.verification_key(ring.active_kid, NOW)
    assert key is not None and key is ring.verification_key(ring.active_kid, NOW)
    assert key.as_dict() == ring.signing_key().as_dict(private=False)


def test_a_ring_refuses_a_key_that_cannot_verify_es256(ring_path: Path) -> None:
    p384 = ECKey.generate_key("P-384", parameters={"alg": "ES256", "use": "sig"}, auto_kid=True)
    enc = ECKey.generate_key("P-256", parameters={"alg": "ES256", "use": "enc"}, auto_kid=True)
    for key in (p384, enc):
        kid = key.thumbprint()
        with pytest.raises(KeyRingError, match=f"Key {kid} cannot verify ES256"):
            KeyRing(ring_path, keys={kid: key}, active_kid=kid, next_kid=None, retiring={})


def test_the_public_jwks_has_no_private_members(ring_path: Path) -> None:
    KeyRing.rotate(ring_path, access_token_ttl_s=900, now=NOW)
    ring = KeyRing.load(ring_path)
    jwks = ring.public_jwks(NOW)
    assert len(jwks["keys"]) == 3
    for jwk in jwks["keys"]:
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(jwk)
        assert not ECKey.import_key(jwk).is_private
    assert '"d"' not in json.dumps(jwks)


def test_rotation_promotes_next_retires_active_and_adds_a_new_next(ring_path: Path) -> None:
    before = KeyRing.load(ring_path)
    after = KeyRing.rotate(ring_path, access_token_ttl_s=900, now=NOW, leeway_s=60)
    assert after.active_kid == before.next_kid
    assert after.retiring == {before.active_kid: NOW + 960}
    assert after.next_kid not in {before.active_kid, before.next_kid}
    assert KeyRing.load(ring_path) == after
    assert stat.S_IMODE(ring_path.stat().st_mode) == 0o600
    assert [p.name for p in ring_path.parent.iterdir()] == [ring_path.name]


def test_the_jwks_published_before_a_rotation_holds_the_key_that_signs_after_it(
    ring_path: Path,
) -> None:
    published = {jwk["kid"] for jwk in KeyRing.load(ring_path).public_jwks(NOW)["keys"]}
    after = KeyRing.rotate(ring_path, access_token_ttl_s=900, now=NOW)
    assert after.signing_key().kid in published


def test_a_retired_key_leaves_the_jwks_when_its_window_ends(ring_path: Path) -> None:
    before = KeyRing.load(ring_path)
    ring = KeyRing.rotate(ring_path, access_token_ttl_s=900, now=NOW, leeway_s=0)
    assert before.active_kid in {k["kid"] for k in ring.public_jwks(NOW + 899)["keys"]}
    assert before.active_kid not in {k["kid"] for k in ring.public_jwks(NOW + 900)["keys"]}


def test_rotating_a_ring_without_a_next_key_is_refused(ring_path: Path) -> None:
    document = json.loads(ring_path.read_text())
    document["next"] = None
    ring_path.write_text(json.dumps(document))
    with pytest.raises(KeyRingError, match="no next key"):
        KeyRing.rotate(ring_path, access_token_ttl_s=900, now=NOW)


def _broken(ring_path: Path, change: Any) -> None:
    document = json.loads(ring_path.read_text())
    change(document)
    ring_path.write_text(json.dumps(document))


def _foreign_key(document: dict[str, Any]) -> None:
    document["keys"][0] = dict(new_signing_key().as_dict(private=False))


def _wrong_kid(document: dict[str, Any]) -> None:
    document["keys"][0]["kid"] = "chosen-by-hand"


def _p384(document: dict[str, Any]) -> None:
    key = ECKey.generate_key("P-384", parameters={"alg": "ES256", "use": "sig"}, auto_kid=True)
    document["keys"][0] = dict(key.as_dict(private=True))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("active"), "expected a JSON object"),
        (lambda d: d.update(keys=[]), "non-empty list"),
        (lambda d: d.update(active="nope"), "'active' must be"),
        (lambda d: d.update(next=3), "'next' must be"),
        (lambda d: d.update(retiring=[]), "'retiring' must be"),
        (lambda d: d.update(retiring={"nope": 1}), "retiring kid 'nope'"),
        (lambda d: d.update(retiring={d["active"]: "soon"}), "integer verify-until"),
        (lambda d: d["keys"].__setitem__(0, "text"), "key #1 is not a JSON object"),
        (lambda d: d["keys"][0].update(x="AAAA"), "key #1 is not a valid EC JWK"),
        (lambda d: d["keys"][0].pop("d"), "key #1 must be a private"),
        (lambda d: d["keys"][0].update(alg="ES384"), 'key #1 must carry "alg"'),
        (_foreign_key, "key #1 must be a private"),
        (_wrong_kid, "key #1 has a kid that is not its RFC 7638 thumbprint"),
        (_p384, "key #1 must be a private P-256 key"),
        (lambda d: d["keys"].append(d["keys"][0]), "appears twice"),
    ],
)
def test_a_broken_ring_file_fails_to_load_naming_the_file_and_the_problem(
    ring_path: Path, change: Any, message: str
) -> None:
    _broken(ring_path, change)
    with pytest.raises(KeyRingError, match=message) as caught:
        KeyRing.load(ring_path)
    assert str(ring_path) in str(caught.value)


def test_a_missing_or_non_json_ring_file_fails_to_load_without_quoting_it(
    tmp_path: Path,
) -> None:
    with pytest.raises(KeyRingError, match="does not exist; create it with"):
        KeyRing.load(tmp_path / "absent.json")
    path = tmp_path / "garbage.json"
    path.write_text('{"keys": [{"d": "SECRET-MATERIAL"')
    with pytest.raises(KeyRingError, match="not valid JSON") as caught:
        KeyRing.load(path)
    assert "SECRET" not in str(caught.value)


def test_the_source_reloads_after_the_file_changes_at_most_once_a_second(
    ring_path: Path,
) -> None:
    clock = FakeClock()
    source = KeyRingSource(ring_path, clock=clock)
    first = source.current()
    rotated = KeyRing.rotate(ring_path, access_token_ttl_s=900, now=NOW)
    clock.now += 0.5
    assert source.current() is first
    clock.now += 0.6
    assert source.current().active_kid == rotated.active_kid
    again = source.current()
    clock.now += 5
    assert source.current() is again


def test_the_source_keeps_the_last_good_ring_when_the_file_breaks(ring_path: Path) -> None:
    clock = FakeClock()
    source = KeyRingSource(ring_path, clock=clock)
    good = source.current()
    ring_path.write_text("{ not json")
    clock.now += 2
    assert source.current() is good
    ring_path.unlink()
    clock.now += 2
    assert source.current() is good


def test_the_source_fails_loudly_when_the_first_load_fails(tmp_path: Path) -> None:
    with pytest.raises(KeyRingError, match="does not exist"):
        KeyRingSource(tmp_path / "absent.json").current()


def test_rotating_faster_than_tokens_expire_stops_before_the_published_set_outgrows_the_spec(
    ring_path: Path,
) -> None:
    for step in range(MAX_RETIRING):
        KeyRing.rotate(ring_path, access_token_ttl_s=900, now=NOW + step)
    full = KeyRing.load(ring_path)
    assert len(full.public_jwks(NOW + MAX_RETIRING)["keys"]) == MAX_RETIRING + 2
    before = ring_path.read_bytes()
    with pytest.raises(KeyRingError, match="wait until the oldest has retired"):
        KeyRing.rotate(ring_path, access_token_ttl_s=900, now=NOW + MAX_RETIRING)
    assert ring_path.read_bytes() == before
    # Once the oldest retiring key has expired, rotation works again.
    later = KeyRing.rotate(ring_path, access_token_ttl_s=900, now=NOW + 900 + 61)
    assert len(later.retiring) <= MAX_RETIRING
