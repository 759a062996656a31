"""Feedback for exercise check cells (hand-written tooling, not generated from a chapter).

Each check raises `CheckFailed` whose first line says what is wrong in one sentence and
whose following lines help find it: expected vs got shapes, how far a value is off and
where, the relative error of a gradient and its largest mismatch. On success the
`passed` line is printed. `python -m annicas_lib.check` reads the first line of a
failure as the feedback for its table.
"""
import numpy as np

__all__ = [
    "CheckFailed", "passed", "check_type", "check_shape", "check_close", "check_gradient",
    "check_layer_gradients", "check_raises", "check_true",
]


class CheckFailed(AssertionError):
    """A check cell found a mistake; the message says what and where."""


def _fail(first_line, *details):
    raise CheckFailed("\n".join([first_line, *[d for d in details if d]]))


def _fmt_index(index):
    return "(" + ", ".join(str(int(i)) for i in index) + ")" if len(index) != 1 else f"[{int(index[0])}]"


def passed(message="all checks passed"):
    print(f"\u2714 {message}")


def check_true(condition, message, hint=""):
    if not condition:
        _fail(message, hint)


def check_type(got, expected_type, what="the result"):
    if not isinstance(got, expected_type):
        names = (expected_type.__name__ if isinstance(expected_type, type)
                 else " or ".join(t.__name__ for t in expected_type))
        _fail(f"{what} should be a {names}, got {type(got).__name__}.",
              "Did the function return something? A missing `return` gives None." if got is None else "")


def check_shape(got, expected_shape, what="the result"):
    if got is None:
        _fail(f"{what} is None: did you forget to return it or to set the attribute?")
    shape = np.shape(got)
    expected_shape = tuple(expected_shape)
    if shape != expected_shape:
        hint = ""
        if sorted(shape) == sorted(expected_shape):
            hint = "The same sizes in another order: is a transpose missing (or one too many)?"
        elif len(shape) == len(expected_shape) - 1:
            hint = "One dimension short: keepdims=True, or a reshape, may be missing."
        _fail(f"{what} has shape {shape}, expected {expected_shape}.", hint)


def check_close(got, expected, what="the result", rtol=1e-6, atol=1e-9):
    expected = np.asarray(expected, dtype=np.float64)
    check_shape(got, expected.shape, what)
    got = np.asarray(got, dtype=np.float64)
    if not np.all(np.isfinite(got)):
        bad = np.argwhere(~np.isfinite(got))[0] if got.ndim else ()
        _fail(f"{what} contains nan or inf (first at {_fmt_index(bad) if got.ndim else 'the value'}).",
              "Look for a division by zero, a log of 0, or exp of a large number.")
    diff = np.abs(got - expected)
    limit = atol + rtol * np.abs(expected)
    if np.any(diff > limit):
        if got.ndim == 0:
            _fail(f"{what} is off by {float(diff):.3g}: got {float(got):.6g}, expected {float(expected):.6g}.")
        where = np.unravel_index(np.argmax(diff - limit), diff.shape)
        n_bad = int(np.sum(diff > limit))
        _fail(
            f"{what} is off in {n_bad} of {diff.size} entries; the largest difference is {diff[where]:.3g} "
            f"at {_fmt_index(where)} (got {got[where]:.6g}, expected {expected[where]:.6g}).",
            "If every entry is off by the same factor, look for a missing or extra division by the batch size."
            if np.allclose(got[expected != 0] / expected[expected != 0],
                           (got[expected != 0] / expected[expected != 0]).flat[0]) and np.any(expected != 0) else "",
        )


def check_gradient(got, expected, what="the gradient", tol=1e-7):
    """Compare an analytic gradient with a reference (for example a numerical one)."""
    expected = np.asarray(expected, dtype=np.float64)
    check_shape(got, expected.shape, what)
    got = np.asarray(got, dtype=np.float64)
    scale = np.linalg.norm(got) + np.linalg.norm(expected)
    error = 0.0 if scale == 0 else float(np.linalg.norm(got - expected) / scale)
    if not error < tol:
        diff = np.abs(got - expected)
        where = np.unravel_index(np.argmax(diff), diff.shape)
        hint = ""
        if np.allclose(got, -expected, rtol=1e-4, atol=1e-12):
            hint = "Every entry has the wrong sign."
        elif np.linalg.norm(got) > 0 and np.allclose(got / np.linalg.norm(got), expected / max(np.linalg.norm(expected), 1e-300), atol=1e-6):
            hint = f"The direction is right but the size is off by a factor {np.linalg.norm(got) / np.linalg.norm(expected):.3g}."
        _fail(
            f"{what} has relative error {error:.2e} (should be below {tol:.0e}); the largest mismatch is at "
            f"{_fmt_index(where)}: got {got[where]:.6g}, expected {expected[where]:.6g}.",
            hint,
        )
    return error


def check_layer_gradients(layer, inputs, what=None, tol=1e-7, forward_kwargs=None):
    """Numerically check a layer's backward: inputs and every array in `layer.params`."""
    from annicas_lib.gradcheck import check_layer_gradients as _errors

    name = what or type(layer).__name__
    if not hasattr(layer, "backward"):
        _fail(f"{name} has no backward method.")
    errors = _errors(layer, inputs, forward_kwargs=forward_kwargs)
    for key, error in errors.items():
        if not error < tol:
            grad = "dinputs" if key == "inputs" else "d" + key
            _fail(f"{name}.{grad} has relative error {error:.2e} against the numerical gradient (should be below {tol:.0e}).",
                  "Compare the shapes in your derivation with the docstring, and check each sum's axis.")
    return errors


def check_raises(function, exception, what, match=None):
    """`function()` must raise `exception` (and its message contain `match`)."""
    try:
        function()
    except exception as err:
        if match and match.lower() not in str(err).lower():
            _fail(f"{what} raised {exception.__name__}, but its message does not mention {match!r}: {err}")
        return
    except Exception as err:  # noqa: BLE001 - the point is to report any other exception
        _fail(f"{what} raised {type(err).__name__} ({err}), expected {exception.__name__}.")
    _fail(f"{what} raised no error, expected {exception.__name__}.")
