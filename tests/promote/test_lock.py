"""The promotion lock on a real MLflow registry (SQLite store): taken and released, waited for with
the holder's name, and retried when MLflow's own error path loses the race with a release."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.exceptions import RestException

from slimnlp.promote.registry import LOCK_SUFFIX, RegistryError, promotion_lock


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    uri = f"sqlite:///{tmp_path_factory.mktemp('lock')}/mlflow.db"
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def _names(client) -> set[str]:
    return {m.name for m in client.search_registered_models()}


def test_the_lock_is_held_inside_and_released_after(client):
    with promotion_lock(client, "m1", holder="run a"):
        assert client.get_registered_model("m1" + LOCK_SUFFIX).tags["holder"] == "run a"
    assert "m1" + LOCK_SUFFIX not in _names(client)
    with pytest.raises(RuntimeError), promotion_lock(client, "m1", holder="run b"):
        raise RuntimeError("the promotion failed")
    assert "m1" + LOCK_SUFFIX not in _names(client)  # released on failure too


def test_a_held_lock_is_waited_for_by_name_until_the_deadline(client, capsys):
    client.create_registered_model("m2" + LOCK_SUFFIX, tags={"holder": "run other"})
    with pytest.raises(RegistryError, match=r"another run \(run other\) holds the promotion lock of 'm2'"):
        with promotion_lock(client, "m2", holder="run me", wait_s=1.0):
            pass
    assert capsys.readouterr().out.count("promote: waiting for run other to finish promoting m2") == 1
    assert client.get_registered_model("m2" + LOCK_SUFFIX).tags["holder"] == "run other"  # not taken


class _ReleasedWhileWording:
    """MLflow's SQL store words a unique-name clash by reading the holder back; when the holder
    released the lock in between, the create answers RESOURCE_DOES_NOT_EXIST (seen under CI)."""

    def __init__(self, client) -> None:
        self.client, self.calls = client, 0

    def __getattr__(self, name):
        return getattr(self.client, name)

    def create_registered_model(self, *args, **kwargs):
        self.calls += 1
        if self.calls == 1:
            raise RestException({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "not found"})
        return self.client.create_registered_model(*args, **kwargs)


def test_a_lock_released_while_mlflow_words_the_clash_is_taken_on_the_next_try(client):
    racing = _ReleasedWhileWording(client)
    with promotion_lock(racing, "m3", holder="run c"):
        assert client.get_registered_model("m3" + LOCK_SUFFIX).tags["holder"] == "run c"
    assert racing.calls == 2
