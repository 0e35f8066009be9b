"""The GIL is released while training runs; Ctrl-C interrupts a training or a sweep."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import aqnn


def test_gil_released_during_training(data_dir):
    done = {}

    def work():
        t = time.perf_counter()
        done["run"] = aqnn.train(levels=4, epochs=3, resolution=14, data_dir=data_dir)
        done["seconds"] = time.perf_counter() - t

    th = threading.Thread(target=work)
    ticks = 0
    th.start()
    while th.is_alive():
        ticks += 1
        time.sleep(0.001)
    th.join()
    assert done["run"].test_accuracy > 0.3
    # With the GIL held for the whole run, this thread could not tick at all.
    assert done["seconds"] > 0.2
    assert ticks > 0.25 * done["seconds"] * 1000 / 2, (ticks, done["seconds"])


def test_two_trainings_in_threads_match_serial(data_dir):
    results = {}

    def work(seed):
        results[seed] = aqnn.train(levels=5, epochs=1, seed=seed, data_dir=data_dir)

    ths = [threading.Thread(target=work, args=(s,)) for s in (0, 1)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    for s in (0, 1):
        alone = aqnn.train(levels=5, epochs=1, seed=s, data_dir=data_dir)
        assert (alone.weights["q_w1"] == results[s].weights["q_w1"]).all()


def _interrupt(code: str, tmp_path, data_dir):
    """Start `code` in a child Python, send SIGINT once it prints 'go', and return the
    seconds from the signal to the child's exit and its stderr."""
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(code))
    env = dict(os.environ, AQNN_DATA_DIR=str(data_dir))
    p = subprocess.Popen([sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    assert p.stdout.readline().strip() == "go"
    time.sleep(1.5)
    t = time.perf_counter()
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    return time.perf_counter() - t, err, p.returncode


def test_ctrl_c_interrupts_training(tmp_path, data_dir):
    code = """
        import sys, aqnn
        print("go", flush=True)
        aqnn.train(levels=4, epochs=5000, resolution=14)
        print("finished", flush=True)
    """
    dt, err, rc = _interrupt(code, tmp_path, data_dir)
    assert rc != 0 and "KeyboardInterrupt" in err, err
    assert dt < 1.0, dt


def test_ctrl_c_interrupts_sweep(tmp_path, data_dir):
    code = """
        import sys, aqnn
        print("go", flush=True)
        aqnn.sweep({"name": "long", "train": {"epochs": 5000, "resolution": 14},
                    "grid": {"levels": [3, 4, 5, 6]}}, sys.argv[1] + "/long", jobs=2)
    """
    dt, err, rc = _interrupt(code, tmp_path, data_dir)
    assert rc != 0 and "KeyboardInterrupt" in err, err
    assert dt < 1.0, dt
    # Nothing finished: every run directory is incomplete, to be trained again on resume.
    assert not list((tmp_path / "long").glob("*/result.json"))
