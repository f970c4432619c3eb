"""The UI's CPU governor: configured rates when the UI is cheap, slower when it is not."""

from lossmon.views.tui.governor import PLOT_MIN_HZ, Governor


class FakeClocks:
    def __init__(self, ui_share: float) -> None:
        self.now = 0.0
        self.cpu = 0.0
        self.ui_share = ui_share

    def advance(self, dt: float) -> None:
        self.now += dt
        self.cpu += dt * self.ui_share


def run_for(gov: Governor, clocks: FakeClocks, seconds: float, tick: float = 0.1):
    numbers = plots = 0
    for _ in range(int(seconds / tick)):
        clocks.advance(tick)
        n, p = gov.due()
        numbers += n
        plots += p
    return numbers / seconds, plots / seconds


def test_a_cheap_ui_keeps_the_configured_rates():
    clocks = FakeClocks(ui_share=0.005)
    gov = Governor(10, 2, budget=0.02, cpu_clock=lambda: clocks.cpu, clock=lambda: clocks.now)
    numbers_hz, plot_hz = run_for(gov, clocks, 20)
    assert gov.slowdown == 1.0
    assert 9 <= numbers_hz <= 10.5 and 1.8 <= plot_hz <= 2.2


def test_an_expensive_ui_is_slowed_to_its_floors_and_recovers():
    clocks = FakeClocks(ui_share=0.30)
    gov = Governor(10, 4, budget=0.02, cpu_clock=lambda: clocks.cpu, clock=lambda: clocks.now)
    run_for(gov, clocks, 30)
    numbers_hz, plot_hz = run_for(gov, clocks, 30)
    assert gov.slowdown > 10
    assert plot_hz <= 4 / 10 + 0.05 and plot_hz >= PLOT_MIN_HZ - 0.05
    assert numbers_hz >= 1.0  # the step counter never stalls below 1 Hz
    clocks.ui_share = 0.001
    run_for(gov, clocks, 120)
    assert gov.slowdown == 1.0


def test_budget_zero_turns_the_governor_off():
    clocks = FakeClocks(ui_share=0.9)
    gov = Governor(10, 4, budget=0, cpu_clock=lambda: clocks.cpu, clock=lambda: clocks.now)
    run_for(gov, clocks, 10)
    assert gov.slowdown == 1.0
