"""The comet-zoo demo as a Hugging Face Space (sdk: gradio, app_file: app.py), or locally:
`python app.py` (the same app as `comet demo`, within the same bounds; docs/security.md)."""

from comet_zoo.demo import LIMITS, build_demo, launch_options, share_threads

demo = build_demo()   # the configured hubs' models; never a folder or file:// hub named by a request

if __name__ == "__main__":
    share_threads(LIMITS)
    demo.launch(**launch_options(LIMITS))
