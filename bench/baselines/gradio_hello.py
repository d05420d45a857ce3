"""Baseline for app start: the smallest Gradio app a user would write, served on $PORT.

It shows what Gradio itself costs to import and serve on this machine, so the lab's app start reads as
"Gradio + the lab's own work".
"""
import os

import gradio as gr

with gr.Blocks(title="hello") as demo:
    gr.Markdown("# Hello")
    name = gr.Textbox(label="Name")
    out = gr.Textbox(label="Greeting")
    name.submit(lambda n: f"Hello {n}", name, out)

demo.launch(server_name="0.0.0.0", server_port=int(os.environ["PORT"]))
