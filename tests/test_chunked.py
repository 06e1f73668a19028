"""Chunked split files: the streamed training source, its shuffling state and resume, per-shard features + split."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ml4hep.chunked import ROW, ChunkedSplit, ChunkedWriter, write_chunked
from ml4hep.models import FitContext
from ml4hep.models.step import train_and_score
from ml4hep.toptag.preprocess import FEATURE_COLUMNS, SPLITS, load_split, split_features
from ml4hep.toptag.taggers import TAGGERS
from ml4hep.training import StreamedBatches, TrainingCheckpoint, fit, seed_everything

from .test_models import toptag_splits


def write_rows(path, n, chunk_size=10, seed=0):
    rng = np.random.default_rng(seed)
    rows = {
        "x": rng.normal(size=(n, 3, 2)).astype(np.float32),
        "label": (rng.random(n) > 0.5).astype(np.int64),
        "value": np.arange(n, dtype=np.int64),
    }
    pieces = [{k: v[i : i + 7] for k, v in rows.items()} for i in range(0, n, 7)]  # pieces of odd sizes
    write_chunked(path, pieces, chunk_size=chunk_size, metadata={"names": "a,b"})
    return rows


def test_a_chunked_file_is_a_lazy_column_mapping(tmp_path):
    rows = write_rows(tmp_path / "s.root", 103)
    split = ChunkedSplit(tmp_path / "s.root", chunk_size=10)
    assert split.n_rows == 103 and set(split) == {"x", "label", "value", "names"}
    np.testing.assert_array_equal(split["x"], rows["x"])
    assert split["names"].tolist() == ["a", "b"]
    np.testing.assert_array_equal(split.read(["value"], 15, 27)["value"], np.arange(15, 27))
    assert [len(c[ROW]) for c in split.chunks(["x"])] == [10] * 10 + [3]
    assert [b.num_baskets for b in split._tree.values()] == [11] * 3, "baskets of chunk_size rows"


def test_shuffled_epochs_cover_every_row_once_are_seeded_and_differ(tmp_path):
    write_rows(tmp_path / "s.root", 103)
    first = ChunkedSplit(tmp_path / "s.root", chunk_size=10, buffer_chunks=3, seed=4)
    again = ChunkedSplit(tmp_path / "s.root", chunk_size=10, buffer_chunks=3, seed=4)
    orders = []
    for _ in range(3):
        chunks = list(first.shuffled_chunks(["value"]))
        order = np.concatenate([c["value"] for c in chunks])
        np.testing.assert_array_equal(np.concatenate([c[ROW] for c in chunks]), order)
        assert sorted(order.tolist()) == list(range(103)), "every row exactly once"
        np.testing.assert_array_equal(order, np.concatenate([c["value"] for c in again.shuffled_chunks(["value"])]))
        orders.append(order)
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[1], orders[2])
    other = ChunkedSplit(tmp_path / "s.root", chunk_size=10, buffer_chunks=3, seed=5)
    assert not np.array_equal(orders[0], np.concatenate([c["value"] for c in other.shuffled_chunks(["value"])]))


def test_the_shuffling_state_resumes_the_next_epoch(tmp_path):
    write_rows(tmp_path / "s.root", 50)
    source = ChunkedSplit(tmp_path / "s.root", chunk_size=8, seed=1)
    list(source.shuffled_chunks(["value"]))
    state = source.state_dict()
    expected = np.concatenate([c["value"] for c in source.shuffled_chunks(["value"])])
    resumed = ChunkedSplit(tmp_path / "s.root", chunk_size=8, seed=99)
    resumed.load_state_dict(state)
    np.testing.assert_array_equal(np.concatenate([c["value"] for c in resumed.shuffled_chunks(["value"])]), expected)


def test_streamed_batches_have_full_sizes_and_every_row_once(tmp_path):
    rows = write_rows(tmp_path / "s.root", 103)
    split = ChunkedSplit(tmp_path / "s.root", chunk_size=10, buffer_chunks=2, seed=0)
    weight = np.linspace(1, 2, 103)
    source = StreamedBatches(split, ["x"], rows["label"], weight)
    batches = list(source.batches(16, torch.Generator()))
    assert [len(t) for _, t, _ in batches] == [16] * 6 + [7]
    x = torch.cat([inputs[0] for inputs, _, _ in batches]).numpy()
    order = np.argsort(np.concatenate([w.numpy() for _, _, w in batches]))
    np.testing.assert_allclose(x[order], rows["x"])  # the weights are increasing: they give back the row numbers
    in_order = torch.cat([inputs[0] for inputs, _, _ in source.batches(16)]).numpy()
    np.testing.assert_array_equal(in_order, rows["x"])


def _streamed_fit(path, checkpoint, after_epoch=None):
    seed_everything(5)
    model = nn.Sequential(nn.Flatten(1), nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 1), nn.Flatten(0))
    split = ChunkedSplit(path, chunk_size=10, buffer_chunks=2, seed=3)
    labels = split["label"]
    train = StreamedBatches(split, ["x"], labels)
    val = StreamedBatches(split.reopened(), ["x"], labels)
    result = fit(
        model,
        train,
        None,
        val,
        None,
        epochs=6,
        batch_size=16,
        patience=6,
        checkpoint=TrainingCheckpoint(checkpoint, "f"),
        after_epoch=after_epoch,
    )
    return model, result


def test_a_streamed_training_resumes_to_exactly_the_uninterrupted_weights(tmp_path):
    write_rows(tmp_path / "s.root", 83)
    uninterrupted, _ = _streamed_fit(tmp_path / "s.root", tmp_path / "a.ckpt")

    def stop(epoch):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _streamed_fit(tmp_path / "s.root", tmp_path / "b.ckpt", stop)
    torch.manual_seed(1234)
    np.random.seed(1234)
    resumed, result = _streamed_fit(tmp_path / "s.root", tmp_path / "b.ckpt")
    assert result.resumed_from_epoch == 2
    for key, value in uninterrupted.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def write_splits(tmp_path, splits, chunk_size=50):
    paths = {}
    for name, split in splits.items():
        paths[name] = tmp_path / f"{name}.root"
        columns = {k: v for k, v in split.items() if k != "substructure_names"}
        write_chunked(
            paths[name], [columns], chunk_size, metadata={"substructure_names": ",".join(split["substructure_names"])}
        )
    return paths


@pytest.mark.parametrize("name", ["cut", "bdt", "pfn"])
def test_taggers_train_and_score_on_chunked_splits(name, tmp_path):
    splits = toptag_splits(np.random.default_rng(1))
    paths = write_splits(tmp_path, splits)
    hyper = {
        "bdt": {"n_estimators": 30, "early_stopping_rounds": 5},
        "pfn": {"phi_sizes": [8], "f_sizes": [8], "epochs": 2, "batch_size": 64},
    }.get(name, {})
    cls = TAGGERS.model_class(name)
    outputs = {
        "model_path": tmp_path / f"{name}{cls.suffix}",
        "scores_path": tmp_path / f"{name}_scores.root",
        "info_path": tmp_path / "info.json",
    }
    onnx = tmp_path / "m.onnx" if TAGGERS.is_network(name) else None
    chunked = {split: load_split(path, chunk_size=50) for split, path in paths.items()}
    info = train_and_score(TAGGERS.create(name, hyper), chunked, FitContext(seed=2), **outputs, onnx_path=onnx)
    assert info["n_train"] == 240
    model = TAGGERS.load(name, outputs["model_path"])
    np.testing.assert_allclose(
        model.predict(load_split(paths["test"], chunk_size=50)), model.predict(splits["test"]), rtol=0, atol=1e-6
    )
    if onnx is not None:
        assert info["onnx_max_abs_diff"] < 1e-4


def fake_shard(path, n, shard, seed):
    rng = np.random.default_rng(seed)
    columns = {
        "x": rng.normal(size=(n, 4, 8)).astype(np.float32),
        "mask": np.ones((n, 4), np.float32),
        "images": np.zeros((n, 1, 4, 4), np.float32),
        "substructure": rng.normal(size=(n, 3)),
        "label": rng.integers(0, 2, n),
        "weight": np.ones(n),
        "jet_pt": rng.uniform(500, 600, n),
        "jet_mass": rng.uniform(0, 200, n),
        "shard": np.full(n, shard),
        "entry": np.arange(n),
        "event": np.arange(n),
    }
    assert set(columns) == set(FEATURE_COLUMNS)
    with ChunkedWriter(path, 16, metadata={"substructure_names": "a,b,c"}) as writer:
        writer.add(columns)


def origins(path):
    split = load_split(path)
    return {(int(s), int(h), int(e)) for s, h, e in zip(split["sample"], split["shard"], split["entry"], strict=True)}


def run_split(tmp_path, shards, seed, tag, options=None):
    outputs = {name: tmp_path / tag / f"{name}.root" for name in SPLITS}
    options = options or {"split": {"train": 0.6, "val": 0.2, "test": 0.2}, "predefined_split": None}
    counts = split_features(shards, options, seed, outputs, chunk_size=32)
    return counts, {name: origins(path) for name, path in outputs.items()}


def test_the_split_is_by_event_disjoint_complete_and_reproducible(tmp_path):
    sizes = {"top": [70, 0, 45], "qcd": [60]}  # with an empty shard
    shards = {}
    for sample, ns in sizes.items():
        shards[sample] = [tmp_path / f"{sample}{i}.root" for i in range(len(ns))]
        for i, (n, path) in enumerate(zip(ns, shards[sample], strict=True)):
            fake_shard(path, n, i, seed=len(sample) + i)
    counts, sets = run_split(tmp_path, shards, 11, "a")
    everything = {(s, h, e) for s, ns in enumerate(sizes.values()) for h, n in enumerate(ns) for e in range(n)}
    assert set.union(*sets.values()) == everything and sum(counts.values()) == len(everything)
    assert all(not (sets[a] & sets[b]) for a in SPLITS for b in SPLITS if a < b), "disjoint"
    assert counts["train"] == pytest.approx(0.6 * len(everything), abs=4)
    assert run_split(tmp_path, shards, 11, "b")[1] == sets, "reproducible"
    assert run_split(tmp_path, shards, 12, "c")[1] != sets, "seeded"
    # The split of a shard's jets depends on that shard alone: dropping a sample leaves the others' jets in place.
    _, without = run_split(tmp_path, {"top": shards["top"]}, 11, "d")
    assert all(without[name] == {o for o in sets[name] if o[0] == 0} for name in SPLITS)
    # Rows keep the order of the features (sample, shard, entry) and carry the shard's columns.
    train = load_split(tmp_path / "a" / "train.root")
    keys = list(zip(train["sample"], train["shard"], train["entry"], strict=True))
    assert keys == sorted(keys) and train["x"].shape == (counts["train"], 4, 8)
    assert train["substructure_names"].tolist() == ["a", "b", "c"]


def fake_higgs_table(path, n, shard, label, seed):
    from ml4hep.higgs.features import FEATURE_NAMES

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        X=rng.normal(size=(n, len(FEATURE_NAMES))),
        label=np.full(n, label),
        weight=np.full(n, 0.5),
        truth_mass=rng.uniform(50, 150, n),
        resonance_mass=np.full(n, 125.0),
        shard=np.full(n, shard),
        entry=np.sort(rng.choice(10 * n, n, replace=False)),
    )


def test_the_higgs_split_is_by_event_per_shard_disjoint_complete_and_reproducible(tmp_path):
    from ml4hep.higgs.dataset import SPLITS as HIGGS_SPLITS
    from ml4hep.higgs.dataset import load_split as load_higgs_split
    from ml4hep.higgs.dataset import split_tables

    tables = {"higgs_ggh125": [tmp_path / "s0.npz", tmp_path / "s1.npz"], "higgs_ztautau": [tmp_path / "b0.npz"]}
    fake_higgs_table(tables["higgs_ggh125"][0], 80, 0, 1, 1)
    fake_higgs_table(tables["higgs_ggh125"][1], 0, 1, 1, 2)  # a shard where no event passes the selection
    fake_higgs_table(tables["higgs_ztautau"][0], 120, 0, 0, 3)
    options = {"split": {"train": 0.5, "val": 0.25, "test": 0.25}}

    def run(seed, tag, which=tables):
        outputs = {s: tmp_path / tag / f"{s}.root" for s in HIGGS_SPLITS}
        summary = split_tables(which, options, seed, outputs)
        splits = {s: load_higgs_split(p) for s, p in outputs.items()}
        return summary, {
            s: {(int(a), int(b), int(c)) for a, b, c in zip(d["process"], d["shard"], d["entry"], strict=True)}
            for s, d in splits.items()
        }

    summary, sets = run(4, "a")
    assert summary["higgs_ggh125"]["selected_events"] == 80 and summary["higgs_ztautau"]["expected_yield"] == 60.0
    assert sum(len(v) for v in sets.values()) == 200 == len(set.union(*sets.values())), "disjoint and complete"
    assert [len(v) for v in sets.values()] == [100, 50, 50]
    assert run(4, "b")[1] == sets and run(5, "c")[1] != sets
    _, alone = run(4, "d", {"higgs_ggh125": tables["higgs_ggh125"]})
    assert all(alone[s] == {o for o in sets[s] if o[0] == 0} for s in HIGGS_SPLITS), "per shard"
    test = load_higgs_split(tmp_path / "a" / "test.root")
    np.testing.assert_allclose(test["weight"], 0.5 * 4)  # scaled by 1 / test fraction


def test_a_selection_of_a_split_file_streams_each_selected_row_once_and_resumes(tmp_path):
    from ml4hep.chunked import ChunkedSplit, SelectedRows, write_chunked

    x = np.arange(1000.0)
    path = tmp_path / "split.root"
    write_chunked(path, [{"x": x[:500]}, {"x": x[500:]}], chunk_size=64)
    mask = x % 3 != 0
    selection = SelectedRows(ChunkedSplit(path, chunk_size=64, seed=5), mask)
    assert selection.n_rows == mask.sum() and np.array_equal(selection["x"], x[mask])
    np.testing.assert_array_equal(selection.read(["x"], 10, 20)["x"], x[mask][10:20])
    chunks = list(selection.shuffled_chunks(["x"]))
    values, rows = (np.concatenate([chunk[key] for chunk in chunks]) for key in ("x", ROW))
    np.testing.assert_array_equal(values, x[mask][rows])  # row numbers are positions among the selected rows
    assert sorted(rows) == list(range(selection.n_rows)) and not np.array_equal(rows, np.sort(rows))
    state, second = selection.state_dict(), [chunk["x"] for chunk in selection.shuffled_chunks(["x"])]
    resumed = SelectedRows(ChunkedSplit(path, chunk_size=64, seed=5), mask)
    resumed.load_state_dict(state)
    assert all(np.array_equal(a, chunk["x"]) for a, chunk in zip(second, resumed.shuffled_chunks(["x"]), strict=True))
    in_order = np.concatenate([chunk["x"] for chunk in selection.reopened(seed=1).chunks(["x"])])
    np.testing.assert_array_equal(in_order, x[mask])
