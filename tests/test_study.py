"""Studies: the acceptance test of ``skdisent study``, resuming, failures, identity, aggregates."""

import csv
import itertools
import json
import math

import numpy as np
import pytest

from skdisent import BetaVAE, ProVLAE
from skdisent.cli import main
from skdisent.datasets import make_dsprites
from skdisent.study import (
    STATUSES,
    Study,
    StudyMismatchError,
    ablation_success_rates,
    aggregate,
    fair_model,
    format_markdown,
    information_table,
    is_success,
    normalized_beta,
    read_results,
    success_rates,
    top_k_mean,
    write_table,
)
from skdisent.study._results import ResultsFile

from .test_cli import assert_png, ctrl_c_at

TINY = {"batch_size": 64, "conv_channels": 4, "dense_units": 8, "device": "cpu", "n_threads": 1,
        "fade_in_steps": None}
SMALL = {"levels": 2, "latent_dim": 2, "epochs_per_level": 1, "model_params": TINY}


@pytest.fixture(scope="module")
def data():
    X = make_dsprites(n_samples=128, size=16, random_state=0, return_X_y=True)[0]
    X_eval, y_eval = make_dsprites(n_samples=640, size=16, random_state=1, return_X_y=True)
    return X, X_eval, y_eval


def csv_rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


# ------------------------------------------------------------------ acceptance

ACCEPTANCE = ["study", "--models", "BetaVAE", "ProVLAE", "--betas", "1", "4", "--seeds", "0",
              "1", "--quick"]


def test_skdisent_study_writes_resumes_and_reports(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "study"
    assert main([*ACCEPTANCE, "--out", str(out)]) == 0
    captured = capsys.readouterr()
    rows = csv_rows(out / "results.csv")
    assert len(rows) == 8
    for key in ("model", "beta", "seed", "status", "mig", "mig_sup", "reconstruction_error",
                "mig_estimator", "information_level_3", "time_s", "fit_id"):
        assert key in rows[0], key
    assert {(r["model"], float(r["beta"]), int(r["seed"])) for r in rows} == set(
        itertools.product(["BetaVAE", "ProVLAE"], [1.0, 4.0], [0, 1]))
    assert all(r["status"] in STATUSES for r in rows)
    assert all(r["mig_estimator"] == "histogram" for r in rows)
    assert "[8/8]" in captured.err and "ProVLAE beta=4" in captured.out  # progress, table
    assert len({r["n_iterations"] for r in rows}) == 1  # the same iterations for every model

    # the same command again fits nothing
    assert main([*ACCEPTANCE, "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "8 of 8 fits already in" in err and "[1/" not in err
    assert csv_rows(out / "results.csv") == rows

    # killed after three fits (the last line cut short): only the five missing ones run
    text = (out / "results.csv").read_text().splitlines(keepends=True)
    (out / "results.csv").write_text("".join(text[:4]) + text[4][:25])
    assert main([*ACCEPTANCE, "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "[5/5]" in err and "[6/" not in err and "3 of 8 fits already in" in err
    again = csv_rows(out / "results.csv")
    assert len(again) == 8 and again[:3] == rows[:3]  # the finished rows are left alone
    assert {r["fit_id"] for r in again} == {r["fit_id"] for r in rows}

    assert main(["study", "report", str(out)]) == 0
    report = out / "report"
    pictures = sorted(report.glob("*.png"))
    assert [p.name for p in pictures] == ["fig2_scores_vs_reconstruction.png",
                                          "fig3_mig_vs_mig_sup.png", "information_per_level.png",
                                          "success_rates.png"]
    for picture in pictures:
        assert_png(picture)
        assert picture.with_suffix(".csv").is_file() and picture.with_suffix(".md").is_file()
    assert "![fig3_mig_vs_mig_sup]" in (report / "report.md").read_text()


def test_ctrl_c_keeps_the_finished_fits_and_the_checkpoint(tmp_path, capsys, monkeypatch):
    argv = ["study", "--quick", "--n-samples", "128", "--eval-samples", "640", "--levels", "2",
            "--models", "vlae", "--betas", "1", "--seeds", "0", "1", "--epochs-per-level", "2",
            "--device", "cpu", "--out", str(tmp_path)]
    ctrl_c_at(monkeypatch, 4 * 2 + 6)  # the first fit: 4 epochs of 2 updates; then epoch 3
    assert main(argv) == 130
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("skdisent study: interrupted after epoch 2 of 4; run the same "
                           "command again to continue from the checkpoint in ")
    assert last.endswith("and the same command, run again, runs the rest")
    assert len(read_results(tmp_path)) == 1
    assert len(list((tmp_path / "checkpoints").iterdir())) == 1
    monkeypatch.undo()
    assert main(argv) == 0
    assert "[1/1]" in capsys.readouterr().err
    rows = read_results(tmp_path)
    assert len(rows) == 2 and rows[1]["n_iterations"] == 8  # resumed after epoch 2 of 4
    assert not (tmp_path / "checkpoints").exists()


def test_a_config_file_and_a_grid_on_the_command_line(tmp_path, capsys):
    config = tmp_path / "study.json"
    config.write_text(json.dumps({
        "models": ["vlae"], "betas": [1], "seeds": [0, 1], "n_samples": 128, "eval_samples": 640,
        "levels": 2, "grid": {"learning_rate": [0.001]}, "output": str(tmp_path / "out")}))
    argv = ["study", "--config", str(config), "--quick", "--seeds", "0", "--device", "cpu",
            "--grid", "normalization=affine,batch"]
    assert main(argv) == 0  # the options win over the file; the grids add up
    rows = read_results(tmp_path / "out")
    assert [(r["seed"], r["learning_rate"], r["normalization"]) for r in rows] == [
        (0, 0.001, "affine"), (0, 0.001, "batch")]
    assert "VLAE beta=1 learning_rate=0.001 normalization=batch" in capsys.readouterr().out
    config.write_text(json.dumps({"modles": ["vlae"]}))
    assert main(["study", "--config", str(config)]) == 1
    assert "unknown settings modles" in capsys.readouterr().err


# ------------------------------------------------------------------ Python API


def test_a_stopped_study_runs_only_the_missing_fits(tmp_path, data):
    X, X_eval, y_eval = data
    study = Study(["betavae", "provlae"], {"beta": [1.0, 4.0]}, seeds=[0], **SMALL)
    ended = []

    def stop_after_two(row, n_done, n_to_do):
        ended.append(row["fit_id"])
        if n_done == 2:
            raise RuntimeError("stopped")

    with pytest.raises(RuntimeError, match="stopped"):
        study.run(tmp_path, X, X_eval=X_eval, factors_eval=y_eval, on_fit_end=stop_after_two)
    assert [r["fit_id"] for r in read_results(tmp_path)] == ended
    rest = []
    rows = study.run(tmp_path, X, X_eval=X_eval, factors_eval=y_eval,
                     on_fit_end=lambda row, n, total: rest.append((row["fit_id"], total)))
    assert len(rows) == 4 and len(rest) == 2 and {total for _, total in rest} == {2}
    assert not set(ended) & {fit_id for fit_id, _ in rest}
    assert [r["fit_id"] for r in rows] == [f.fit_id for f in study.plan(len(X))]
    row = rows[0]
    assert row["beta_normalized"] == pytest.approx(1.0 * 4 / 256)  # beta * M / N
    assert row["n_latents"] == 4 and row["input_size"] == 256 and row["n_epochs"] == 2
    assert json.loads(row["params"]) == {"beta": 1.0}
    # resume=False fits everything again; each fit's newest row is its result
    again = study.run(tmp_path, X, X_eval=X_eval, factors_eval=y_eval, resume=False)
    assert len(csv_rows(tmp_path / "results.csv")) == 8 and len(again) == 4
    assert [r["fit_id"] for r in again] == [r["fit_id"] for r in rows]
    assert [r["mig"] for r in again] == [r["mig"] for r in rows]  # the same fits, bit for bit


def test_failures_are_rows_with_a_status(tmp_path, data):
    X, X_eval, y_eval = data
    # lr=1e6 makes the loss NaN; beta=-1 is refused by the estimator's own validation
    study = Study({"BetaVAE": "betavae"}, [{"learning_rate": [1e-3, 1e6]}, {"beta": [-1.0]}],
                  seeds=[0], **SMALL)
    rows = study.run(tmp_path, X, X_eval=X_eval, factors_eval=y_eval)
    statuses = [r["status"] for r in rows]
    assert statuses[0] in ("ok", "collapsed")
    assert statuses[1:] == ["non_finite", "error"]
    assert rows[1]["error"].startswith("Training produced a non-finite loss")
    assert "beta" in rows[2]["error"] and rows[2]["error"].startswith("InvalidParameterError")
    assert rows[1]["mig"] is None and not is_success(rows[1])
    # a posterior that varies more than the limit has exploded
    exploded = Study(["betavae"], seeds=[0], variance_limit=1e-9, **SMALL).run(
        tmp_path / "exploded", X, X_eval=X_eval, factors_eval=y_eval)
    assert exploded[0]["status"] == "exploded" and "limit 1e-09" in exploded[0]["error"]


def test_two_studies_never_mix_their_rows(tmp_path, data):
    X, X_eval, y_eval = data
    Study(["betavae"], seeds=[0], **SMALL).run(tmp_path, X, X_eval=X_eval, factors_eval=y_eval)
    other = Study(["betavae"], seeds=[0], **{**SMALL, "model_params": {**TINY, "learning_rate": 1e-2}})
    with pytest.raises(StudyMismatchError, match=r"model_params.learning_rate \(None there, 0.01 here\)"):
        other.run(tmp_path, X, X_eval=X_eval, factors_eval=y_eval)
    with pytest.raises(StudyMismatchError, match="data.X.sha256"):
        Study(["betavae"], seeds=[0], **SMALL).run(tmp_path, X[::-1], X_eval=X_eval,
                                                   factors_eval=y_eval)
    # more seeds and models grow the same study; the device is no part of its identity
    grown = Study(["betavae", "vlae"], seeds=[0, 1], **{**SMALL, "model_params": {**TINY,
                                                                                  "device": "auto"}})
    assert len(grown.run(tmp_path, X, X_eval=X_eval, factors_eval=y_eval)) == 4
    assert len(read_results(tmp_path)) == 4
    (tmp_path / "loose").mkdir()
    (tmp_path / "loose" / "results.csv").write_text("fit_id\n")
    with pytest.raises(StudyMismatchError, match="no study.json"):
        grown.run(tmp_path / "loose", X, X_eval=X_eval, factors_eval=y_eval)


def test_plans_are_fair_and_name_each_fit_once():
    study = Study(["betavae", "vlae", "provlae"], {"beta": [1.0, 4.0], "fade_in": [True, False]},
                  seeds=[0, 1], levels=3, latent_dim=2, epochs_per_level=5)
    fits = study.plan(n_samples=1000)
    counts = {name: sum(f.model == name for f in fits) for name in ("BetaVAE", "VLAE", "ProVLAE")}
    assert counts == {"BetaVAE": 4, "VLAE": 4, "ProVLAE": 8}  # fade_in is ProVLAE's only
    assert {f.estimator.n_components if f.model == "BetaVAE"
            else f.estimator.levels * f.estimator.latent_dim for f in fits} == {6}
    assert {f.estimator.n_epochs for f in fits if f.model != "ProVLAE"} == {15}
    assert len({f.fit_id for f in fits}) == len(fits) == len(study.plan(1000))
    assert [f.fit_id for f in fits] == [f.fit_id for f in study.plan(1000)]  # stable
    # integers and floats name the same fit
    assert Study(["vlae"], {"beta": [4]}).plan()[0].fit_id == Study(["vlae"], {"beta": [4.0]}).plan()[0].fit_id
    with pytest.raises(ValueError, match="same total latents and iterations"):
        Study({"a": BetaVAE(n_components=4), "b": ProVLAE(levels=3, latent_dim=2)}).plan()
    with pytest.raises(ValueError, match="no model of this study has a parameter 'colour'"):
        Study(["vlae"], {"colour": [1]}).plan()
    with pytest.raises(ValueError, match="'random_state' cannot be set"):
        Study(["vlae"], {"random_state": [1]}).plan()
    with pytest.raises(ValueError, match="unknown model 'ldf'"):
        Study(["ldf"]).plan()
    restricted = Study(["betavae"], [{"beta": [1.0]}, {"model": ["provlae"], "pre_kl_coef": [0.0]}])
    assert [(f.model, f.params) for f in restricted.plan()] == [
        ("BetaVAE", {"beta": 1.0}), ("ProVLAE", {"pre_kl_coef": 0.0})]
    assert fair_model("betavae", levels=2, latent_dim=3, epochs_per_level=4).get_params()[
        "n_components"] == 6


# ------------------------------------------------------------------ results file


def test_the_results_file_survives_a_cut_line_and_new_columns(tmp_path):
    results = ResultsFile(tmp_path, ["fit_id", "status", "mig"])
    results.append({"fit_id": "a", "status": "ok", "mig": 0.5})
    with open(tmp_path / "results.csv", "a") as handle:
        handle.write("b,ok,0.")  # killed while writing
    assert [r["fit_id"] for r in read_results(tmp_path)] == ["a"]
    results.append({"fit_id": "c", "status": "non_finite", "mig": None, "fade_in": False})
    rows = read_results(tmp_path)
    assert rows == [{"fit_id": "a", "status": "ok", "mig": 0.5, "fade_in": None},
                    {"fit_id": "c", "status": "non_finite", "mig": None, "fade_in": False}]
    results.append({"fit_id": "a", "status": "ok", "mig": 0.25})  # a fit run again: newest wins
    assert [(r["fit_id"], r["mig"]) for r in read_results(tmp_path)] == [("c", None), ("a", 0.25)]


# ------------------------------------------------------------------ aggregates


def test_top_k_mean_and_normalized_beta():
    assert top_k_mean([0.1, 0.9, 0.5, float("nan"), 0.3], 3) == pytest.approx((0.9 + 0.5 + 0.3) / 3)
    assert top_k_mean([3.0, 1.0, 2.0], 2, higher_is_better=False) == 1.5
    assert top_k_mean([0.2], 3) == 0.2 and math.isnan(top_k_mean([], 3))
    with pytest.raises(ValueError):
        top_k_mean([1.0], 0)
    assert normalized_beta(4.0, 10, 4096) == pytest.approx(4.0 * 10 / 4096)
    np.testing.assert_allclose(normalized_beta([1, 4], [6, 6], 1024), [6 / 1024, 24 / 1024])


def _rows():
    rows = []
    for setting, migs, recons in (("A", [0.1, 0.2, 0.6, 0.4], [30.0, 20.0, 10.0, 40.0]),
                                  ("B", [0.5, 0.7], [5.0, 6.0])):
        for seed, (m, r) in enumerate(zip(migs, recons)):
            rows.append({"setting": setting, "model": setting, "seed": seed, "status": "ok",
                         "mig": m, "reconstruction_error": r, "params": json.dumps({"beta": 1.0}),
                         "beta": 1.0, "information_level_1": seed, "information_level_2": 10.0})
    rows.append({"setting": "A", "model": "A", "seed": 9, "status": "non_finite", "mig": None,
                 "reconstruction_error": None, "params": json.dumps({"beta": 1.0}), "beta": 1.0})
    return rows


def test_aggregate_knows_its_answers():
    a, b = aggregate(_rows(), ["mig", "reconstruction_error"], top_k=3)
    assert (a["setting"], a["n_fits"], a["n_counted"], a["top_k"]) == ("A", 5, 4, 3)
    assert a["mig_top_k_mean"] == pytest.approx((0.6 + 0.4 + 0.2) / 3)
    assert a["mig_mean"] == pytest.approx(0.325)
    assert a["mig_std"] == pytest.approx(np.std([0.1, 0.2, 0.6, 0.4]))
    assert a["reconstruction_error_top_k_mean"] == pytest.approx(20.0)  # the three lowest
    assert b["mig_top_k_mean"] == pytest.approx(0.6)  # fewer seeds than k: all of them
    assert a["beta"] == 1.0 and a["model"] == "A"
    # one pick of seeds, by MIG, for every score
    ranked = aggregate(_rows(), ["mig", "reconstruction_error"], top_k=2, rank_by="mig")[0]
    assert ranked["reconstruction_error_top_k_mean"] == pytest.approx((10.0 + 40.0) / 2)
    assert format_markdown([{"x": 0.5, "y": None}]).splitlines()[-1] == "| 0.5 | - |"


def test_success_rates_and_information_table(tmp_path):
    rates = {r["setting"]: r for r in success_rates(_rows())}
    assert rates["A"]["success_rate"] == 0.8 and rates["A"]["n_non_finite"] == 1
    assert rates["B"]["success_rate"] == 1.0
    strict = {r["setting"]: r["success_rate"] for r in success_rates(_rows(), min_level_information=1)}
    assert strict == {"A": 0.6, "B": 0.5}  # seed 0 holds 0 nats at level 1
    table = [{"fade_in": f, "pre_kl_coef": c, "status": s} for f, c, s in [
        (False, 0.0, "non_finite"), (True, 0.5, "ok"), (True, 0.0, "collapsed"), (True, 0.0, "ok"),
        (False, 0.5, "ok"), (False, 0.5, "error"), (True, 0.5, "ok")]]
    assert [(r["fade_in"], r["pre_kl"], r["n_success"], r["n_fits"])
            for r in ablation_success_rates(table)] == [
        (True, True, 2, 2), (True, False, 1, 2), (False, True, 1, 2), (False, False, 0, 1)]
    info = {r["setting"]: r for r in information_table(_rows())}
    assert info["A"]["level_1_mean"] == pytest.approx(1.5) and info["A"]["n"] == 4
    assert info["A"]["level_1_std"] == pytest.approx(np.std([0, 1, 2, 3]))
    assert info["B"]["level_2_mean"] == 10.0 and info["B"]["level_2_std"] == 0.0
    csv_file, markdown = write_table(list(info.values()), tmp_path / "information")
    assert csv_rows(csv_file)[0]["level_1_mean"] == "1.5"
    assert markdown.read_text().startswith("| setting | n | level_1_mean |")


# ------------------------------------------------------------------ Dask


@pytest.mark.slow  # two worker processes start and import torch: 20-30 s on 2 busy cores
def test_a_study_runs_on_a_dask_cluster_with_no_other_change(tmp_path, data):
    distributed = pytest.importorskip("distributed")
    from joblib import parallel_config

    X, X_eval, y_eval = data
    study = Study(["betavae"], {"beta": [1.0, 4.0]}, seeds=[0], **SMALL)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster), parallel_config(backend="dask"):
        rows = study.run(tmp_path, X, X_eval=X_eval, factors_eval=y_eval)
    assert len(rows) == 2 and {r["status"] for r in rows} <= {"ok", "collapsed"}
    assert len(read_results(tmp_path)) == 2
