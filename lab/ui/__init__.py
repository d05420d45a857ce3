"""The Gradio face of the lab. Only this package imports gradio; each tab is a build() function."""
