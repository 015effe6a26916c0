"""The Python side of the interop tests: the article's `multiprocessing.shared_memory`.

    shm_peer.py create NAME WORDS   create NAME, fill 0..WORDS, print "ready", wait for a
                                    line on stdin, check every word was transformed,
                                    then close and unlink (the creator's job)
    shm_peer.py check NAME WORDS    attach to NAME, check every word was transformed,
                                    write 0..WORDS back, close without unlinking

Exit status 0 when every word matched; 1 with the first mismatch on stderr.
"""

import sys
from multiprocessing import resource_tracker, shared_memory


def expected(x):
    return (2 * x + (1 if x % 2 == 0 else 0)) % (1 << 32)


def first_mismatch(words):
    for i, w in enumerate(words):
        if w != expected(i):
            return f"word {i} is {w}, expected {expected(i)}"
    return None


def attach(name):
    try:  # Python 3.13+: ask the resource tracker to leave this segment alone
        return shared_memory.SharedMemory(name=name, track=False)
    except TypeError:
        # Before 3.13 an attacher registers the segment with the resource tracker, which
        # unlinks it when this process exits, under the creator's feet (CPython gh-82300).
        shm = shared_memory.SharedMemory(name=name)
        resource_tracker.unregister(shm._name, "shared_memory")
        return shm


def main():
    command, name, words = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if command == "create":
        shm = shared_memory.SharedMemory(name=name, create=True, size=4 * words)
        view = shm.buf.cast("I")
        try:
            for i in range(words):
                view[i] = i
            print("ready", flush=True)
            sys.stdin.readline()
            problem = first_mismatch(view)
        finally:
            view.release()
            shm.close()
            shm.unlink()
    elif command == "check":
        shm = attach(name)
        view = shm.buf.cast("I")
        try:
            problem = first_mismatch(view[:words])
            for i in range(words):
                view[i] = i
        finally:
            view.release()
            shm.close()
    else:
        sys.exit(f"unknown command {command!r}")
    if problem:
        sys.exit(f"python saw {problem}")


if __name__ == "__main__":
    main()
