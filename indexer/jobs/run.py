"""`indexer run`: the long-running process. The only module that imports APScheduler.

One runtime owns every resource of the process and releases them in reverse order on stop (an
``AsyncExitStack``): the alert channels (built once), the dispatcher (woken after every block's commit),
one pipeline per chain (each with its RPC client), the scheduler (per chain a head-following job every
``poll_interval`` seconds, never overlapping itself; retention pruning), the status server on loopback
(``/healthz``, ``/readyz``, ``/metrics``), and the database engine. On stop the scheduler stops starting
jobs, the block in progress finishes (its transaction commits whole or not at all), and the dispatcher
drains its current pass.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from indexer.alerts.channels.alertmanager import AlertmanagerChannel
from indexer.alerts.dispatcher import Dispatcher, pending_delivery
from indexer.alerts.registry import build_channels
from indexer.chain.newheads import HeadSubscription
from indexer.errors import ConfigError, PermanentError, RetryableError
from indexer.heap import HeapSchedule
from indexer.metrics import REGISTRY as PROCESS_REGISTRY
from indexer.pipeline.chain import ChainPipeline
from indexer.settings import Settings
from indexer.store.lease import OUTBOX_LEASE, ChainLease, LeaseHeldError
from indexer.store.outbox import DbOutbox
from indexer.store.retention import prune
from indexer.venue.pipeline import VenuePipeline

log = logging.getLogger(__name__)

PERMANENT_BACKOFF_MAX = 600.0  # seconds between retries of a chain whose step keeps failing permanently

_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class ChainState:
    """How one chain's following goes, for the status endpoints."""

    processed: int = 0
    failures: int = 0
    error: str | None = None  # the last error, while it lasts
    failing: bool = False  # the last step ended in a permanent error: retried with a long backoff
    standby: bool = False  # another process holds the chain's lease: this one waits to take over


class Runtime:
    def __init__(self, settings: Settings, engine: Engine, *, dispatch: bool = True, wait: bool = True) -> None:
        """``wait``: when another process holds a chain's lease, wait as a hot standby (else refuse)."""
        self.settings = settings
        self.engine = engine
        self.dispatch = dispatch
        self.wait = wait
        self.chains = sorted({m.chain for m in settings.markets.values()})
        self.states = {chain: ChainState() for chain in self.chains}
        self.leases = {chain: ChainLease(engine, chain) for chain in self.chains}
        self.outbox_lease = ChainLease(engine, OUTBOX_LEASE)
        self.channels: dict[str, Any] = {}
        self._stack: AsyncExitStack | None = None
        self._stop: asyncio.Event | None = None
        self.pipelines: dict[str, ChainPipeline | VenuePipeline] = {}
        self.dispatcher: Dispatcher | None = None
        self.scheduler = AsyncIOScheduler()
        self.registry = CollectorRegistry()
        self.block_seconds = Histogram("indexer_run_block_seconds", "Processing time of one block (read, judge, "
                                       "commit)", ["chain"], registry=self.registry,
                                       buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30))
        self.registry.register(_RunCollector(self))
        self.address = ""  # the status server's, once it listens
        self.subscriptions: dict[str, HeadSubscription] = {}  # per chain with a WebSocket endpoint
        self._rerun: set[str] = set()  # chains a new head reached while their step was running
        self.free_since: dict[str, float] = {}  # chains seen free while at ``max_chains``: since when
        self.heap = HeapSchedule()  # the collector: long-lived state frozen after each block, swept when idle

    # -- lifecycle ------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        async with AsyncExitStack() as stack:
            self._stack, self._stop = stack, stop
            self.heap.start()
            stack.callback(self.heap.stop)
            stack.callback(self.engine.dispose)
            stack.callback(self._release_leases)
            cap = self.settings.run.max_chains
            held: dict[str, bool] = {}
            capped: set[str] = set()  # not tried: this worker has its `max_chains` already
            for chain in self.chains:  # in one order in every worker: simultaneous starts spread over the chains
                if cap and sum(held.values()) >= cap:
                    held[chain] = False
                    capped.add(chain)
                else:
                    held[chain] = self.leases[chain].try_acquire()
            busy = [c for c, ok in held.items() if not ok and c not in capped]
            if not self.wait and (busy or not any(held.values())):
                raise LeaseHeldError(f"chain {', '.join(busy or self.chains)} is being followed by another "
                                     "`indexer run` (lease held)")
            self.channels = build_channels(self.settings.channels)
            if self.dispatch and self.channels:  # every `run` delivers (claims go to one dispatcher each); one
                await self._start_dispatcher()  # re-asserts the open alerts to Alertmanager: the outbox lease's
                self.outbox_lease.try_acquire()
            for chain, ok in held.items():
                if ok:
                    self._start_pipeline(chain)
                else:
                    self.states[chain].standby = True
                    log.warning("standby chain=%s: %s; taking over when it stops", chain,
                                f"this worker follows its max_chains = {cap} already" if chain in capped else
                                "another process holds its lease")
            stack.push_async_callback(self._stop_pipelines)
            await self._serve_status(stack)
            self._schedule()
            stack.callback(self.scheduler.shutdown, wait=False)
            log.info("indexer running chains=%s standby=%s status=%s", ",".join(self.pipelines),
                     ",".join(c for c in self.chains if c not in self.pipelines) or "-", self.address or "off")
            await stop.wait()

    def _start_pipeline(self, chain: str) -> None:
        kind = VenuePipeline if self.settings.is_venue(chain) else ChainPipeline
        self.pipelines[chain] = kind(self.settings, self.engine, chain, channels=self.channels,
                                     on_block=self._committed)
        urls = [] if self.settings.is_venue(chain) else self.settings.ws_urls(chain)
        if urls and self._stack is not None and self._stop is not None:
            subscription = HeadSubscription(urls, chain=chain, on_head=lambda number: self._wake(chain, number),
                                            timeout=self.settings.chains[chain].rpc_timeout)
            self.subscriptions[chain] = subscription
            task = asyncio.create_task(subscription.run(self._stop), name=f"newheads:{chain}")

            async def ended() -> None:  # the subscription ends with the stop event; then wait for it
                await asyncio.wait({task}, timeout=5)
                task.cancel()

            self._stack.push_async_callback(ended)

    def _wake(self, chain: str, number: int) -> None:
        """A new head exists: follow the chain now rather than at the next poll. A step already running takes it
        on when it ends; a chain backing off after failures keeps its back-off."""
        pipeline, state = self.pipelines.get(chain), self.states[chain]
        if pipeline is None or state.failures or pipeline.stopping:
            return
        if pipeline.last_stored is not None and number <= pipeline.last_stored:
            return  # a head the chain already stored (a re-announced or reorged head is found by the step itself)
        if pipeline.lock.locked():
            self._rerun.add(chain)
            return
        self._follow_now(chain)

    def _follow_now(self, chain: str) -> None:
        job = self.scheduler.get_job(f"follow:{chain}")
        if job is not None:
            job.modify(next_run_time=datetime.now())

    async def _start_dispatcher(self) -> None:
        assert self._stack is not None and self._stop is not None
        self.dispatcher = await self._stack.enter_async_context(
            Dispatcher(DbOutbox(self.engine, pending_delivery), self.channels))
        delivering = asyncio.create_task(self.dispatcher.run_forever(self._stop, poll_interval=0.5))

        async def drained() -> None:  # the dispatcher finishes its current pass once stop is set
            await delivering

        self._stack.push_async_callback(drained)

    def _release_leases(self) -> None:
        for lease in (*self.leases.values(), self.outbox_lease):
            lease.release()

    async def _stop_pipelines(self) -> None:
        for pipeline in self.pipelines.values():
            pipeline.stopping = True
            async with pipeline.lock:  # the block in progress finishes (or was never started)
                await pipeline.close()
        log.info("indexer stopped " + " ".join(f"{c}={p.last_stored}" for c, p in self.pipelines.items()))

    def _committed(self, chain: str, block: int, seconds: float) -> None:
        self.states[chain].processed += 1
        self.block_seconds.labels(chain).observe(seconds)
        self.heap.settle()
        if self.dispatcher is not None:
            self.dispatcher.wake()

    # -- jobs -----------------------------------------------------------------------------------
    def _schedule(self) -> None:
        for chain in self.pipelines:
            self._schedule_follow(chain)
        if any(s.standby for s in self.states.values()) or self._reasserts_elsewhere():
            self.scheduler.add_job(self._standby, "interval", seconds=self.settings.run.lease_poll, id="standby",
                                   max_instances=1, coalesce=True)
        for name, channel in self.channels.items():
            if isinstance(channel, AlertmanagerChannel) and channel.settings.resend_every and self.dispatch:
                self.scheduler.add_job(self._reassert, "interval", args=[name], seconds=channel.settings.resend_every,
                                       id=f"reassert:{name}", max_instances=1, coalesce=True)
        if self.settings.retention.history_blocks:
            self.scheduler.add_job(self._prune, "interval", seconds=self.settings.retention.interval, id="prune",
                                   max_instances=1, coalesce=True)
        self.scheduler.start()

    def _schedule_follow(self, chain: str) -> None:
        self.scheduler.add_job(self._follow, "interval", args=[chain], seconds=self._poll_interval(chain),
                               id=f"follow:{chain}", max_instances=1, coalesce=True, next_run_time=datetime.now())

    def _reasserts_elsewhere(self) -> bool:
        """Another process holds the outbox lease: it re-asserts the open alerts to Alertmanager, this one stands by
        for that duty (only where a channel has ``resend_every``)."""
        resending = any(isinstance(c, AlertmanagerChannel) and c.settings.resend_every for c in self.channels.values())
        return self.dispatch and resending and not self.outbox_lease.held

    async def _standby(self) -> None:
        """A hot standby: take over each chain (and the Alertmanager re-assertion) whose holder has gone. With
        ``[run] max_chains`` reached, a free chain is taken only once it has stayed free ``takeover_seconds`` (its
        holder gone, no worker under its count took it): until then its lease is let go again."""
        cap, now = self.settings.run.max_chains, time.monotonic()
        for chain, state in self.states.items():
            if not state.standby:
                continue
            if not self.leases[chain].try_acquire():
                self.free_since.pop(chain, None)
                continue
            following = sum(1 for s in self.states.values() if not s.standby)
            if cap and following >= cap and now - self.free_since.setdefault(chain, now) < \
                    self.settings.run.takeover_seconds:
                self.leases[chain].release()
                continue
            self.free_since.pop(chain, None)
            state.standby = False
            self._start_pipeline(chain)
            self._schedule_follow(chain)
            log.warning("took over chain=%s: its previous holder is gone", chain)
        if self._reasserts_elsewhere() and self.outbox_lease.try_acquire():
            log.warning("took over re-asserting the open alerts to Alertmanager: the previous holder is gone")
        if not any(s.standby for s in self.states.values()) and not self._reasserts_elsewhere():
            self.scheduler.remove_job("standby")

    async def _reassert(self, name: str) -> None:
        """Post the open alerts to an Alertmanager channel again (only the process that holds the outbox lease
        does)."""
        if self.dispatcher is None or not self.outbox_lease.held:
            return
        import aiohttp

        from indexer.alerts.message import AlertMessage
        from indexer.alerts.sender import Verdict, send
        from indexer.store.alert_store import open_alert_messages

        channel = self.channels[name]
        messages = [AlertMessage.from_json(m) for m in await asyncio.to_thread(open_alert_messages, self.engine)]
        request = channel.reassert(messages, now=time.time())
        if request is None:
            return
        async with aiohttp.ClientSession() as session:
            outcome = await send(session, request, timeout=channel.settings.timeout)
        if outcome.verdict is Verdict.DELIVERED:
            log.debug("open alerts re-asserted channel=%s alerts=%d", name, len(messages))
        else:
            log.warning("open alerts not re-asserted channel=%s error=%s", name, outcome.error)

    def _poll_interval(self, chain: str) -> float:
        if self.settings.is_venue(chain):
            return self.settings.venues[chain].poll_interval
        return self.settings.chains[chain].poll_interval

    async def _follow(self, chain: str) -> None:
        state = self.states[chain]
        try:
            processed = await self.pipelines[chain].step()
        except RetryableError as exc:
            state.failures += 1
            state.error = str(exc)
            delay = min(60.0, self._poll_interval(chain) * 2 ** state.failures)
            delay = max(delay, min(getattr(exc, "retry_after", None) or 0.0, PERMANENT_BACKOFF_MAX))
            # the node, the venue or the database (locked, full disk): the error says which
            log.warning("step failed, retrying chain=%s failures=%d retry_in=%.1fs error=%s", chain, state.failures,
                        delay, exc)
            self.scheduler.get_job(f"follow:{chain}").modify(next_run_time=datetime.now() + timedelta(seconds=delay))
            return
        except PermanentError as exc:
            # not retried soon (the same input fails the same way), but never given up: a node that lied once
            # (a wrong chain id) or a config fixed underneath must not leave a live process with a dead chain
            state.failures += 1
            state.error, state.failing = str(exc), True
            delay = min(PERMANENT_BACKOFF_MAX, self._poll_interval(chain) * 2 ** (state.failures + 2))
            log.error("chain failing chain=%s failures=%d retry_in=%.1fs error=%s", chain, state.failures, delay,
                      exc)
            self.scheduler.get_job(f"follow:{chain}").modify(next_run_time=datetime.now() + timedelta(seconds=delay))
            return
        if state.failures:
            log.warning("chain recovered chain=%s after_failures=%d", chain, state.failures)
        state.failures, state.error, state.failing = 0, None, False
        if processed:
            log.debug("follow chain=%s processed=%d", chain, processed)
        else:
            self.heap.sweep()  # idle: the collector's full pass, when due, costs no block its time
        if chain in self._rerun:  # a head arrived during the step: look again now
            self._rerun.discard(chain)
            self._follow_now(chain)

    async def _prune(self) -> None:
        for chain in self.chains:
            await asyncio.to_thread(prune, self.engine, chain=chain, keep_blocks=self.settings.retention.history_blocks)

    # -- status ---------------------------------------------------------------------------------
    def behind(self, chain: str) -> int | None:
        """Blocks between the head the chain's pipeline last saw and the last block it stored (None: none yet)."""
        pipeline = self.pipelines.get(chain)
        if pipeline is None or pipeline.last_stored is None or pipeline.last_head is None:
            return None
        return max(pipeline.last_head - pipeline.last_stored, 0)

    def chain_report(self, chain: str) -> dict[str, Any]:
        pipeline, state = self.pipelines.get(chain), self.states[chain]
        behind = self.behind(chain)
        return {"chain": chain, "head": pipeline.last_head if pipeline else None,
                "stored": pipeline.last_stored if pipeline else None, "behind_blocks": behind,
                "ready": not state.failing and behind is not None and behind <= self.settings.run.ready_lag_blocks,
                "failures": state.failures, "error": state.error, "failing": state.failing,
                "role": "standby" if state.standby else "active",
                "new_heads": subscription.subscribed if (subscription := self.subscriptions.get(chain)) else None}

    async def _serve_status(self, stack: AsyncExitStack) -> None:
        host, port = self.settings.run.listen.rsplit(":", 1)
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, host, int(port))
        try:
            await site.start()
        except OSError as exc:
            raise ConfigError(f"run.listen {self.settings.run.listen!r}: cannot listen there "
                              f"({exc.strerror})") from None
        bound = runner.addresses[0]
        self.address = f"http://{bound[0]}:{bound[1]}"

    async def _healthz(self, request: web.Request) -> web.Response:
        """200 while every chain is being followed (behind or not); 503 while a chain's last step ended in a
        permanent error (it is retried with a long backoff)."""
        chains = [self.chain_report(c) for c in self.chains]
        failing = any(c["failing"] for c in chains)
        return web.json_response({"status": "failing" if failing else "ok", "time": int(time.time()),
                                  "chains": chains}, status=503 if failing else 200)

    async def _readyz(self, request: web.Request) -> web.Response:
        """200 when every chain this process follows is within ``run.ready_lag_blocks`` of its head; 503 while any
        is behind, or while it follows none (a standby: the chains it waits for are another worker's to keep)."""
        chains = [self.chain_report(c) for c in self.chains]
        active = [c for c in chains if c["role"] == "active"]
        ready = bool(active) and all(c["ready"] for c in active)
        return web.json_response({"status": "ready" if ready else "behind", "chains": chains},
                                 status=200 if ready else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry) + generate_latest(PROCESS_REGISTRY),
                            headers={"Content-Type": _CONTENT_TYPE})


class _RunCollector(Collector):
    """Per-chain gauges and counters read from the runtime at scrape time."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        head = GaugeMetricFamily("indexer_run_chain_head_block", "The head the chain's pipeline last saw",
                                 labels=["chain"])
        stored = GaugeMetricFamily("indexer_run_chain_stored_block", "The last block stored", labels=["chain"])
        behind = GaugeMetricFamily("indexer_run_chain_behind_blocks", "Head minus last stored block",
                                   labels=["chain"])
        ready = GaugeMetricFamily("indexer_run_chain_ready", "1 when within run.ready_lag_blocks of the head",
                                  labels=["chain"])
        processed = CounterMetricFamily("indexer_run_blocks_processed", "Blocks read, judged and committed",
                                        labels=["chain"])
        failures = GaugeMetricFamily("indexer_run_chain_consecutive_failures", "Failed steps in a row",
                                     labels=["chain"])
        for chain in self.runtime.chains:
            report = self.runtime.chain_report(chain)
            for family, value in ((head, report["head"]), (stored, report["stored"]),
                                  (behind, report["behind_blocks"])):
                if value is not None:
                    family.add_metric([chain], value)
            ready.add_metric([chain], 1 if report["ready"] else 0)
            processed.add_metric([chain], self.runtime.states[chain].processed)
            failures.add_metric([chain], report["failures"])
        checked = CounterMetricFamily("indexer_self_check_positions", "Positions also read through the protocol's "
                                      "own view (the runtime self-check)", labels=["chain", "market"])
        mismatched = CounterMetricFamily("indexer_self_check_mismatches", "Self-checked positions whose local "
                                         "figures disagreed with the protocol's own view", labels=["chain", "market"])
        for chain, pipeline in self.runtime.pipelines.items():
            if isinstance(pipeline, ChainPipeline):
                for market, count in pipeline.reads.checked.items():
                    checked.add_metric([chain, market], count)
                    mismatched.add_metric([chain, market], pipeline.reads.mismatched[market])
        yield from (head, stored, behind, ready, processed, failures, checked, mismatched)


async def run(settings: Settings, engine: Engine, stop: asyncio.Event, *, dispatch: bool = True,
              wait: bool = True) -> None:
    """Follow every configured chain until ``stop`` is set (see ``Runtime``)."""
    await Runtime(settings, engine, dispatch=dispatch, wait=wait).run(stop)
