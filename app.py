"""Serve the qa chat app: `python app.py [--host H] [--port P] [--index DIR]`.

Thin on purpose: configuration, the Assistant and the page all live in `qa/`. Binds to
127.0.0.1 unless told otherwise. Models load in a background thread after launch (the
language model too when generative answers are the default), so the first question does
not pay for them.
"""

from __future__ import annotations

import argparse
import sys
import threading


def _warm_up(assistant) -> None:
    """Load what the first question needs: the embedder, the answer ranker and, when
    generative answers are the default, the language model (a first question asked
    meanwhile says it is loading)."""
    try:
        assistant.warm_up()
    except Exception as e:  # a failed warm-up only means the first question loads the model
        print(f"warm-up failed ({e}); models will load on the first question", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Chat with your news articles (Gradio web app).")
    p.add_argument("--host", help="interface to bind (default from config: 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 7860)")
    p.add_argument("--index", help="index directory (default from config: index)")
    p.add_argument("--config", help="TOML config file (default qa.toml or $QA_CONFIG)")
    args = p.parse_args(argv)

    from qa.errors import IndexMissingError, QAError

    try:
        from qa.assistant import Assistant
        from qa.config import load_config

        cfg = load_config(args.config, index_dir=args.index, host=args.host, port=args.port)
        assistant = Assistant.open(cfg)
    except IndexMissingError as e:
        print(f"error: {e}\n(`make run` builds the index over data/articles first.)", file=sys.stderr)
        return 2
    except QAError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    from qa.ui import build_app, launch_options

    demo = build_app(assistant)
    demo.launch(prevent_thread_lock=True, **launch_options(cfg))
    threading.Thread(target=_warm_up, args=(assistant,), daemon=True, name="warm-up").start()
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
