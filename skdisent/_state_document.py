"""An estimator as one explicit document: what pickles, model files and checkpoints hold.

:func:`state_document` describes an estimator in the sections of
:data:`skdisent._model_file.SECTIONS`; :func:`apply_state_document` checks such a
document against the estimator's parameters and sets it. Nothing else of an estimator
is saved: the training engine, the compiled functions and any attribute not named
in the class's ``_fitted_attributes`` stay behind.
"""

import numpy as np
import torch

from ._data import InputLayout
from ._model_file import ModelFileError, training_of_format_1
from .engine.checkpoints import newest_checkpoint
from .engine.state import TrainingState

__all__ = ["state_document", "apply_state_document", "resume_from_checkpoint",
           "completed_params"]

# Parameters a resumed fit may change: how it is run, watched and saved, and its budget
# (ProVLAE's information_rows and snapshot_steps only say what is measured and kept at a
# step end; checkpoints written before they existed lack them). Any other difference
# means the checkpoint belongs to another fit.
_RESUMABLE_CHANGES = frozenset({
    "warm_start", "verbose", "checkpoint_dir", "checkpoint_every", "device", "compile",
    "precision", "on_nan", "nan_lr_factor", "max_nan_retries", "learning_rate", "n_epochs",
    "epochs_per_step", "information_rows", "snapshot_steps",
})

# Parameters added since model files were first written, with the value that gives a file
# written before them the behaviour it was trained with (not necessarily today's default).
_ADDED_PARAMETERS = {"normalization": "batch", "initialization": "torch", "architecture": "vlae",
                     "n_threads": None, "lower_batch_size": None}

# Network settings that choose how the weights are laid out, not what the model computes:
# a file may differ from today's default in them, and its network is rebuilt as saved.
_MEMORY_LAYOUT_KEYS = frozenset({"channels_last"})

# Network settings added since model files were first written, as those files' networks had them.
_ADDED_NETWORK_SETTINGS = {"normalization": "batch"}


def state_document(model):
    """The sections of ``model``'s state.

    Parameters
    ----------
    model : skdisent estimator

    Returns
    -------
    document : dict
        ``params``, ``fitted`` (the class's fitted attributes that are set, the input
        layout as plain values), ``history`` (or None), ``network`` (``config`` and
        CPU ``weights``, or None before ``fit``) and ``training`` (the training
        state's :meth:`~skdisent.engine.TrainingState.to_dict`, or None).
    """
    attributes = vars(model)
    fitted = {name: attributes[name] for name in model._fitted_attributes if name in attributes}
    if "layout_" in fitted:
        fitted["layout_"] = fitted["layout_"].to_dict()
    network = attributes.get("network_")
    training = attributes.get("_training")
    return {
        "params": model.get_params(deep=False),
        "fitted": fitted,
        "history": attributes.get("history_"),
        "network": None if network is None else {
            "config": network.config,
            "weights": {k: v.detach().cpu() for k, v in network.state_dict().items()},
        },
        "training": None if training is None else training.to_dict(),
    }


def completed_params(model_class, params):
    """A document's ``params``, with parameters added since it was written set as it ran.

    Parameters
    ----------
    model_class : type
        The estimator's class.
    params : dict
        The parameters the document holds.

    Returns
    -------
    params : dict
        A new dict.
    """
    names = model_class._get_param_names()
    added = {k: v for k, v in _ADDED_PARAMETERS.items() if k in names and k not in params}
    return {**added, **params}


def apply_state_document(model, document, source, params=False):
    """Check ``document`` against ``model`` and set it.

    Parameters
    ----------
    model : skdisent estimator
        The estimator to set; it keeps its own parameters unless ``params``.
    document : dict
        As :func:`state_document` returns it (or the state an older skdisent pickled).
    source : str or path-like
        Named in error messages.
    params : bool, default=False
        Also set the document's parameters (unpickling, where ``__init__`` did not run).

    Raises
    ------
    ModelFileError
        If the document does not describe a valid model of ``model``'s class and
        parameters.
    """
    if "params" not in document:
        document = _document_of_an_old_pickle(model, document)
    if params:
        vars(model).update(completed_params(type(model), document["params"]))
    fitted = dict(document["fitted"] or {})
    unknown = sorted(set(fitted) - set(model._fitted_attributes))
    if unknown:
        raise ModelFileError(f"{source} is corrupt: a {type(model).__name__} has no fitted "
                             f"attributes {unknown}.")
    network_state = document["network"]
    if network_state is not None:
        layout = _checked_layout(fitted.get("layout_"), source)
        network = _checked_network(model, layout, network_state, source)
        training = _checked_training(model, network, document["training"], source)
        history = document["history"]
        if not (isinstance(history, list) and all(_is_record(r) for r in history)):
            raise ModelFileError(f"{source} is corrupt: its history is not a list of records "
                                 "of numbers.")
        fitted = _checked_fitted(model, fitted, layout, network, len(history), source)
    elif "layout_" in fitted:  # a fit that stopped before its network was built
        fitted["layout_"] = _checked_layout(fitted["layout_"], source)
    vars(model).update(fitted)
    model._compiled = None
    if network_state is not None:
        model.network_, model._training, model.history_ = network, training, history


def _is_record(record):
    """An epoch record: names to numbers (or flags, or None for a missing value)."""
    return isinstance(record, dict) and all(
        isinstance(key, str) and (value is None or isinstance(value, (bool, int, float, str)))
        for key, value in record.items())


def _checked_layout(layout, source):
    if isinstance(layout, InputLayout):  # an old pickle holds the object itself
        return layout
    try:
        return InputLayout.from_dict(layout)
    except (KeyError, TypeError, ValueError):
        raise ModelFileError(f"{source} is corrupt: its input layout is malformed.") from None


def _checked_fitted(model, fitted, layout, network, n_records, source):
    """The fitted attributes, those the layout and network determine checked against them."""
    derived = {"input_shape_": layout.sample_shape, "n_features_in_": layout.sample_shape[0],
               **model._fitted_from_network(network)}
    for name, value in derived.items():
        saved = fitted.get(name, value)
        if isinstance(saved, list):
            saved = tuple(saved)
        if saved != value:
            raise ModelFileError(f"{source} is corrupt: {name} is {saved!r}, but its weights and "
                                 f"input layout give {value!r}.")
    counts = fitted.get("n_iter_"), fitted.get("n_steps_")
    if not (all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts)
            and counts[0] == n_records and counts[1] >= counts[0]):
        raise ModelFileError(f"{source} is corrupt: n_iter_={counts[0]!r} and "
                             f"n_steps_={counts[1]!r} do not fit its {n_records} epoch records.")
    if fitted.get("input_dtype_", "uint8") not in ("uint8", "float32", "float64"):
        raise ModelFileError(f"{source} is corrupt: input_dtype_ is {fitted['input_dtype_']!r}.")
    names = fitted.get("feature_names_in_")
    if names is not None and not (
            isinstance(names, np.ndarray) and names.shape == (derived["n_features_in_"],)
            and all(isinstance(name, str) for name in names)):
        raise ModelFileError(f"{source} is corrupt: feature_names_in_ is not one name per "
                             "feature.")
    return {**fitted, **derived, "layout_": layout}


def resume_from_checkpoint(model, directory):
    """Set the newest checkpoint of ``directory`` on ``model``, if it is a checkpoint of its fit.

    Parameters
    ----------
    model : skdisent estimator
        An estimator not fitted in this process; it keeps its own parameters.
    directory : path-like
        Its ``checkpoint_dir``.

    Returns
    -------
    path : pathlib.Path or None
        The checkpoint set, or None when the folder holds none.

    Raises
    ------
    ValueError
        If the checkpoint is of another model, or of the same model with other
        settings (another ``beta`` or ``random_state``, say).
    """
    found = newest_checkpoint(directory)
    if found is None:
        return None
    path, class_name, document = found
    name = type(model).__name__
    if class_name != name:
        raise ValueError(
            f"checkpoint_dir={str(directory)!r} holds a checkpoint of a {class_name}; this is a "
            f"{name}. Give each model its own checkpoint_dir."
        )
    saved, own = document["params"] or {}, model.get_params(deep=False)
    differing = [key for key in sorted(own) if key not in _RESUMABLE_CHANGES
                 and _plain(own[key]) and _plain(saved.get(key))
                 and _as_list(saved.get(key)) != _as_list(own[key])]
    if differing:
        shown = ", ".join(f"{key}={saved.get(key)!r} there, {own[key]!r} here" for key in differing)
        raise ValueError(
            f"checkpoint_dir={str(directory)!r} holds a checkpoint of another fit ({shown}). "
            "Give each fit its own checkpoint_dir, or fit with warm_start=False to start "
            "afresh (its checkpoints are then replaced)."
        )
    apply_state_document(model, document, source=path)
    return path


def _plain(value):
    """Whether a parameter value compares by value (not a RandomState or other object)."""
    return value is None or isinstance(value, (bool, int, float, str, tuple, list))


def _as_list(value):
    return list(value) if isinstance(value, tuple) else value


def _checked_network(model, layout, network_state, source):
    """The network the document describes, after its configuration and weights are checked."""
    name = type(model).__name__
    if not isinstance(network_state, dict) or not isinstance(network_state.get("weights"), dict):
        raise ModelFileError(f"{source} is corrupt: its network has no weights.")
    saved = network_state.get("config")
    if not isinstance(saved, dict):
        raise ModelFileError(f"{source} is corrupt: its network has no configuration.")
    likelihood = getattr(model, "likelihood", None)
    if likelihood is not None:  # "auto" was resolved on the training data: the file says how
        model.likelihood_ = saved.get("likelihood") if likelihood == "auto" else likelihood
    try:
        with torch.device("meta"):
            expected = model._build_network(layout)
    except (ValueError, TypeError) as error:
        raise ModelFileError(
            f"The parameters in {source} do not describe a valid {name} for its data: {error}"
        ) from None
    differing = [
        key for key in sorted(set(expected.config) | set(saved))
        if key not in _MEMORY_LAYOUT_KEYS
        and expected.config.get(key) != saved.get(key, _ADDED_NETWORK_SETTINGS.get(key))
    ]
    if differing:
        differences = ", ".join(
            f"{key}={expected.config.get(key)!r} from the parameters but {saved.get(key)!r} in "
            "the file" for key in differing
        )
        raise ModelFileError(
            f"The weights in {source} do not match the parameters of the {name}: {differences}."
        )
    _check_weights(expected.state_dict(), network_state["weights"], source, name)
    with torch.device("meta"):
        network = model._network_class(**saved)
    network = network.to_empty(device="cpu")
    network.load_state_dict(network_state["weights"])
    return network


def _check_weights(expected, weights, source, name):
    problems = [f"missing {key}" for key in expected if key not in weights]
    problems += [f"unexpected {key}" for key in weights if key not in expected]
    for key, value in weights.items():
        if key not in expected:
            continue
        want = expected[key]
        if not isinstance(value, torch.Tensor):
            problems.append(f"{key} is not a tensor")
        elif tuple(value.shape) != tuple(want.shape):
            problems.append(f"{key} has shape {tuple(value.shape)}, the parameters give "
                            f"{tuple(want.shape)}")
        elif value.dtype != want.dtype:
            problems.append(f"{key} is {value.dtype}, not {want.dtype}")
        elif value.is_floating_point() and not torch.isfinite(value).all():
            problems.append(f"{key} holds NaN or infinite values")
    if problems:
        shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
        raise ModelFileError(
            f"The weights in {source} do not match the parameters of the {name}: {shown}."
        )


def _checked_training(model, network, training, source):
    if training is None:
        raise ModelFileError(f"{source} is corrupt: it has weights but no training state.")
    try:
        state = TrainingState.from_dict(training, model._build_optimizers(network))
    except (ValueError, TypeError, KeyError, RuntimeError) as error:
        raise ModelFileError(f"{source} is corrupt: {error}.") from None
    expected = sorted(model._initial_schedule())
    if sorted(state.schedule) != expected:
        raise ModelFileError(f"{source} is corrupt: its schedule has the counters "
                             f"{sorted(state.schedule)}, a {type(model).__name__} {expected}.")
    return state


def _document_of_an_old_pickle(model, state):
    """The document of an estimator pickled by skdisent before the training engine."""
    state = dict(state)
    names = set(model._get_param_names())
    params = {name: state.pop(name) for name in list(state) if name in names}
    network = state.pop("_network_state", None)
    training = {name: state.pop(name) for name in list(state) if name.startswith("_")}
    history = state.pop("history_", None)
    try:
        training = training_of_format_1(training)
    except (KeyError, ValueError) as error:
        raise ModelFileError(f"the pickle is not of a skdisent estimator ({error}).") from None
    fitted = {k: v for k, v in state.items() if k in model._fitted_attributes}
    return {"params": params, "fitted": fitted, "history": history, "network": network,
            "training": training}
