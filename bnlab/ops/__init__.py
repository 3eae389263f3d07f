"""Operations: experiment config, Hydra runs, MLflow tracking and registry, the served model.

Everything here sits at the edge — it reads config, opens MLflow runs, binds sockets — and
calls the array core (:mod:`bnlab.fitting`, :mod:`bnlab.infer`, :mod:`bnlab.evaluate`) with
explicit inputs. Nothing below this layer imports from it.
"""
