"""The comet-zoo demo as a Hugging Face Space (sdk: gradio, app_file: app.py), or locally:
`python app.py` (the same app as `comet demo`)."""

from comet_zoo.demo import MAX_UPLOAD, build_demo

demo = build_demo()

if __name__ == "__main__":
    demo.queue(default_concurrency_limit=1).launch(max_file_size=MAX_UPLOAD)
