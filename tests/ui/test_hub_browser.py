"""In a real browser: the Hub picker searches the (fake) Hub from the server and "Use" fills the target box."""
import pytest

from tests.browser.launch import shared_browser


@pytest.fixture
def page():
    context = shared_browser().new_context(viewport={"width": 1300, "height": 1200})
    yield context.new_page()
    context.close()


def test_picker_search_select_and_use(fake_hub, app_url, page):
    for name, downloads in (("acme/chat-small", 500), ("other/chat-large", 900)):
        fake_hub.seed(name, files={"config.json": b'{"architectures": ["LlamaForCausalLM"]}'}, downloads=downloads)
    page.goto(app_url)
    page.get_by_role("tab", name="Hub").click()
    page.get_by_label("Search the Hub").first.fill("chat")
    page.get_by_role("button", name="Search").first.click()
    cell = page.get_by_text("other/chat-large", exact=True).locator("visible=true").first
    cell.wait_for(timeout=20000)
    cell.click()
    # The selection is a server round trip: "Use" copies what "Selected" holds, so wait for it first.
    chosen = page.get_by_label("Selected").locator("visible=true").first
    page.wait_for_function("el => el.value === 'other/chat-large'", arg=chosen.element_handle(), timeout=20000)
    page.get_by_role("button", name="Use").first.click()
    model = page.get_by_label("Model", exact=True)
    page.wait_for_function("el => el.value === 'other/chat-large'", arg=model.element_handle(), timeout=20000)
    assert model.input_value() == "other/chat-large"
