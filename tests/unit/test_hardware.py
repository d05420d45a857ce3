from lab.hardware import Gpu, Hardware, get_hardware, set_hardware


def test_precision_follows_the_gpu():
    assert Hardware().precision == "fp32"
    assert Hardware(gpus=(Gpu("Tesla T4", 15.0, (7, 5)),)).precision == "fp16"
    assert Hardware(gpus=(Gpu("A100", 80.0, (8, 0)),)).precision == "bf16"


def test_summary_names_device_and_4bit():
    hw = Hardware(gpus=(Gpu("NVIDIA A10G", 22.0, (8, 6)),), bnb_ok=True, ram_gb=32, disk_free_gb=100)
    text = hw.summary()
    assert "A10G" in text and "bf16" in text and "4-bit ready" in text
    assert hw.memory_gb == 22.0


def test_real_probe_on_this_machine():
    hw = get_hardware()
    assert hw.ram_gb > 0 and hw.disk_free_gb > 0 and hw.torch_version
    assert hw.to_dict()["summary"] == hw.summary()


def test_fake_probe_is_used():
    fake = Hardware(gpus=(Gpu("H100", 80.0, (9, 0)),), bnb_ok=True)
    set_hardware(fake)
    assert get_hardware() is fake
