"""Persistence: pickle and joblib round trips of every fitted estimator give identical output (also for
transform_pose, inverse_transform, predict_proba and COMTransformer.phase), clone keeps the
parameters and drops the fit, set_params(**get_params()) changes nothing, and transform/predict
before fit raise (AtomPatchExtractor, which learns nothing, may answer).
"""

import io as _io
import pickle

import numpy as np

from .fixtures import R, SPECS, X16, fitted_com, fitted_rvae, rv_spec, rvae_est, tilt_data
from .harness import add, equal_pair, rng_unchanged_like


def build():
    """Add the 'persistence' cases to CASES, in order."""
    cat = "persistence"
    import joblib
    from sklearn.base import clone

    def roundtrip(spec, how):
        def fn():
            X = spec.X()
            est = spec.make()
            if spec.name == "TiltRegressor":
                est.fit(X, tilt_data()[1])
                out = est.predict
            else:
                est.fit(X)
                out = est.transform
            before = out(X)
            if how == "pickle":
                est2 = pickle.loads(pickle.dumps(est))
            else:
                buf = _io.BytesIO()
                joblib.dump(est, buf)
                buf.seek(0)
                est2 = joblib.load(buf)
            after = (est2.predict if spec.name == "TiltRegressor" else est2.transform)(X)
            return before, after

        return fn

    for spec in SPECS.values():
        for how in ("pickle", "joblib"):
            add(cat, spec.name, f"{how} round trip of a fitted estimator gives identical output", roundtrip(spec, how),
                expect="ok", check=equal_pair)

        def clone_unfitted(spec=spec):
            from sklearn.utils.validation import check_is_fitted

            est = spec.make()
            c = clone(est)
            same = repr(c.get_params()) == repr(est.get_params())
            try:
                check_is_fitted(c)
                fitted = True
            except Exception:
                fitted = False
            stateless = not est.__sklearn_tags__().requires_fit
            return {"params differ": not same, "clone reports fitted": fitted and not stateless}

        add(cat, spec.name, "clone of an unfitted estimator: same params, unfitted", clone_unfitted, expect="ok",
            check=rng_unchanged_like)

        def clone_fitted(spec=spec):
            est = spec.make()
            X = spec.X()
            est.fit(X, tilt_data()[1]) if spec.name == "TiltRegressor" else est.fit(X)
            c = clone(est)
            fitted_attrs = [k for k in vars(c) if k.endswith("_") and not k.startswith("_")]
            return {f"clone keeps fitted attributes {fitted_attrs}": bool(fitted_attrs)}

        add(cat, spec.name, "clone of a fitted estimator drops the fit", clone_fitted, expect="ok",
            check=rng_unchanged_like)

        def before_fit(spec=spec):
            est = spec.make()
            method = est.predict if spec.name == "TiltRegressor" else est.transform
            return method(spec.X())

        stateless = not spec.make().__sklearn_tags__().requires_fit  # AtomPatchExtractor: nothing to learn
        add(cat, spec.name, "transform/predict before fit", before_fit, names=(spec.name, "fit"),
            expect="either" if stateless else "error", shape=spec.shape(spec.X()))

    def pickled_methods():
        m = fitted_rvae()
        m2 = pickle.loads(pickle.dumps(m))
        X = R()
        a1, s1 = m.transform_pose(X)
        a2, s2 = m2.transform_pose(X)
        return np.c_[a1, s1, m.inverse_transform(m.transform(X))], np.c_[a2, s2, m2.inverse_transform(m2.transform(X))]

    add(cat, "RotationInvariantVAE", "pickle round trip: transform_pose and inverse_transform identical",
        pickled_methods, expect="ok", check=equal_pair)

    def pickled_classes():
        m = rvae_est(n_classes=2).fit(R())
        m2 = pickle.loads(pickle.dumps(m))
        return m.predict_proba(R()), m2.predict_proba(R())

    add(cat, "RotationInvariantVAE", "pickle round trip with n_classes: predict_proba identical", pickled_classes,
        expect="ok", check=equal_pair)

    def pickled_com_maps():
        m = fitted_com()
        m2 = pickle.loads(pickle.dumps(m))
        return m.phase(X16()), m2.phase(X16())

    add(cat, "COMTransformer", "pickle round trip: phase map identical", pickled_com_maps, expect="ok",
        check=equal_pair)

    def set_params_roundtrip():
        est = rvae_est()
        est.set_params(**est.get_params())
        return rv_spec.run(est, R(), R()), rv_spec.run(rvae_est(), R(), R())

    add(cat, "RotationInvariantVAE", "set_params(**get_params()) changes nothing", set_params_roundtrip, expect="ok",
        check=equal_pair)
