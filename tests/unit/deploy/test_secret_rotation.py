"""A mounted key ring rotated the way each secret manager writes files is picked up without a
restart: Kubernetes Secret volumes and the Secrets Store CSI driver swap a `..data` symlink,
Vault Agent and compose replace the file."""

from __future__ import annotations

import os
from pathlib import Path

from runtime.auth import KeyRing, KeyRingSource


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def kubernetes_volume(root: Path, version: str, ring_source: Path) -> None:
    """Write a Secret volume as the kubelet does: a timestamped directory, `..data` pointing at
    it (swapped atomically with rename), and the key a symlink through `..data`."""
    target = root / f"..{version}"
    target.mkdir()
    (target / "jwt-keys.json").write_bytes(ring_source.read_bytes())
    link = root / "..data_tmp"
    link.symlink_to(target.name)
    os.replace(link, root / "..data")
    visible = root / "jwt-keys.json"
    if not visible.is_symlink():
        visible.symlink_to("..data/jwt-keys.json")


def test_a_kubernetes_secret_update_reaches_the_running_source(tmp_path: Path) -> None:
    first, second = KeyRing.generate(tmp_path / "a.json"), KeyRing.generate(tmp_path / "b.json")
    volume = tmp_path / "volume"
    volume.mkdir()
    kubernetes_volume(volume, "2026_12_01_a", tmp_path / "a.json")
    clock = Clock()
    source = KeyRingSource(volume / "jwt-keys.json", clock=clock)
    assert source.current().active_kid == first.active_kid
    kubernetes_volume(volume, "2026_12_01_b", tmp_path / "b.json")
    assert source.current().active_kid == first.active_kid  # checked at most once a second
    clock.now += 1.5
    assert source.current().active_kid == second.active_kid


def test_a_replaced_file_is_reloaded_and_a_half_written_one_ignored(tmp_path: Path) -> None:
    path = tmp_path / "jwt-keys.json"
    first = KeyRing.generate(path)
    clock = Clock()
    source = KeyRingSource(path, clock=clock)
    assert source.current().active_kid == first.active_kid
    path.write_text("{")  # a writer that does not replace atomically, caught mid-write
    clock.now += 1.5
    assert source.current().active_kid == first.active_kid
    second = KeyRing.generate(tmp_path / "next.json")
    os.replace(tmp_path / "next.json", path)  # Vault Agent renders to a temp file, then renames
    clock.now += 1.5
    assert source.current().active_kid == second.active_kid
