"""What a sync finds and removes that is not the live generation — a killed sync's entities and blobs, replaced
entities, commits with no manifest, orphaned collections of killed rebuilds — and what it finds missing from the
live generation (entities or blobs deleted by someone else), to write again."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kb.backends.milvus.blobs import blob_keys, post_prefix, present_keys, sent_prefix
from kb.backends.milvus.schema import ID_BATCH, count, fetch, lit, meta_of, post_ids


def collect_garbage(client, phys: str, manifest: dict) -> None:
    """Remove what is not part of the live generation: entities and blobs of a killed sync (gen > live), the
    replaced entities and post blobs named in the manifest's `garbage`, and manifests older than the previous one."""
    gen, meta = int(manifest["gen"]), meta_of(phys)
    client.delete(phys, filter=f"gen > {gen}")
    client.delete(meta, filter=f"gen > {gen}")
    by_gen: dict[int, list[str]] = {}
    keys: list[str] = []
    for path, old_gen, parts, *sent in manifest.get("garbage", []):
        by_gen.setdefault(int(old_gen), []).append(path)
        keys.extend(blob_keys(post_prefix(path, int(old_gen)), int(parts)))
        keys.extend(blob_keys(sent_prefix(path, int(old_gen)), int(sent[0]) if sent else 0))
    for g, paths in by_gen.items():
        for i in range(0, len(paths), 200):
            client.delete(phys, filter=f"gen == {g} and post in {lit(paths[i:i + 200])}")
    for i in range(0, len(keys), ID_BATCH):
        client.delete(meta, filter=f"key in {lit(keys[i:i + ID_BATCH])}")
    client.delete(meta, filter=f'gen < {int(manifest.get("previous_gen", gen))} and kind in ["commit", "manifest", '
                               '"stats"]')


def has_garbage(client, phys: str, manifest: dict) -> bool:
    gen = int(manifest["gen"])
    if count(client, phys) != 2 * int(manifest["section_count"]):
        return True
    return bool(client.query(meta_of(phys), filter=f"gen > {gen}", output_fields=["key"], limit=1))


def drop_orphans(client, name: str, keep: set[str | None]) -> None:
    """Drop physical collections of `name` left by killed full rebuilds (all but the live and the previous one)."""
    pattern = re.compile(rf"^{re.escape(name)}_v\d{{14}}_[0-9a-f]{{6}}(_meta)?$")
    for coll in client.list_collections():
        if pattern.match(coll) and coll.removesuffix("_meta") not in keep:
            client.drop_collection(coll)


@dataclass
class Damage:
    """Parts of the live generation that are gone: posts with a missing entity or blob, a missing stats blob."""
    posts: set[str] = field(default_factory=set)
    stats: bool = False

    def __bool__(self) -> bool:
        return bool(self.posts) or self.stats


def find_damage(client, phys: str, manifest: dict) -> Damage:
    """Compare the live generation with its manifest (after collect_garbage): entity and blob counts first, and
    only when they differ, which posts lost what."""
    damage = Damage()
    posts, meta = manifest["posts"], meta_of(phys)
    if count(client, phys, f"gen <= {int(manifest['gen'])}") != 2 * int(manifest["section_count"]):
        for path, v in posts.items():
            want = post_ids(path, int(v["gen"]), int(v["sections"]))
            if len(fetch(client, phys, want, ["id"])) < len(want):
                damage.posts.add(path)
    parts = sum(int(v["parts"]) + int(v.get("sent_parts", 0)) for v in posts.values())
    if count(client, meta, f'gen <= {int(manifest["gen"])} and kind in ["post", "sentences"]') != parts:
        for path, v in posts.items():
            keys = blob_keys(post_prefix(path, int(v["gen"])), int(v["parts"])) + \
                blob_keys(sent_prefix(path, int(v["gen"])), int(v.get("sent_parts", 0)))
            if len(present_keys(client, meta, keys, ["key"])) < len(keys):
                damage.posts.add(path)
    stats = blob_keys(f"stats/{int(manifest['gen'])}", int(manifest["stats_parts"]))
    damage.stats = len(present_keys(client, meta, stats, ["key"])) < len(stats)
    return damage
