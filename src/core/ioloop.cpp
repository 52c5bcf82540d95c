#include "squall/core/ioloop.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <random>
#include <system_error>

#include "core/loop_impl.hpp"
#include "squall/core/executor.hpp"
#include "squall/util/log.hpp"

namespace squall {
namespace detail {
namespace {

thread_local IOLoop* tls_current = nullptr;
thread_local bool tls_exiting = false;  // the thread's implicit loop is gone: create none again

/// The loop `IOLoop::current()` creates for a thread that has none, destroyed at thread exit.
struct ImplicitLoop {
  std::unique_ptr<IOLoop> loop;
  ~ImplicitLoop() {
    loop.reset();
    tls_exiting = true;
  }
};
thread_local ImplicitLoop tls_implicit;

// While callbacks keep coming, I/O is polled (without blocking) after this many callbacks, or
// once the coarse clock has moved (every few milliseconds), whichever is first.
constexpr std::size_t kCallbacksPerPoll = 512;

std::int64_t coarse_now_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

constexpr int kMaxEvents = 256;

std::int64_t to_ns(IOLoop::time_point t) noexcept {
  return t.time_since_epoch().count();
}

[[noreturn]] void throw_errno(const char* what) {
  // A squall::Error, as the API documents, with the system's message.
  throw Error(std::string(what) + ": " + std::generic_category().message(errno));
}

std::uint32_t to_epoll(std::uint32_t events) noexcept {
  std::uint32_t out = 0;
  if (events & IOLoop::READ) out |= EPOLLIN;
  if (events & IOLoop::WRITE) out |= EPOLLOUT;
  return out;  // EPOLLERR and EPOLLHUP are always reported
}

std::uint32_t from_epoll(std::uint32_t events) noexcept {
  std::uint32_t out = 0;
  if (events & (EPOLLIN | EPOLLPRI)) out |= IOLoop::READ;
  if (events & EPOLLOUT) out |= IOLoop::WRITE;
  if (events & (EPOLLERR | EPOLLHUP)) out |= IOLoop::ERROR;
  return out;
}

}  // namespace

void schedule_waiter(Callback&& cb, FutureStateBase* keepalive) noexcept {
  if (!tls_current && tls_exiting) {
    // A Future settled while the thread exits, after its loop is gone: nothing can run it.
    cb.reset();
    if (keepalive) keepalive->release();
    return;
  }
  IOLoop::current().impl().schedule(std::move(cb), keepalive);
}

void log_callback_error(const std::exception_ptr& error, const std::type_info& callback) noexcept {
  try {
    log::app_log().error("Exception in callback {}: {}", describe_callable_type(callback),
                         log::describe(error));
  } catch (...) {
  }
}

std::shared_ptr<RemoteQueue> current_remote_queue() {
  return IOLoop::current().impl().remote();
}

bool post_remote(RemoteQueue& queue, Callback& cb) {
  return queue.post(cb);
}

void abandon(Callback cb) noexcept {
  // Its Future belongs to a closed loop's thread, and its reference count is not atomic, so it
  // must not be destroyed here: keep it forever. This happens only when a loop is closed while
  // a job it submitted is still running.
  new Callback(std::move(cb));  // NOLINT: deliberate
  try {
    log::gen_log().debug("an executor result arrived after its IOLoop closed; dropped");
  } catch (...) {
  }
}

// ---- RemoteQueue ---------------------------------------------------------------------------

bool RemoteQueue::post(Callback& cb) {
  std::lock_guard lock(mutex_);
  if (closed_) return false;
  items_.push_back(std::move(cb));
  if (!std::exchange(wake_pending_, true)) {
    std::uint64_t one = 1;
    // Under the mutex: close() closes the eventfd holding it, so the fd cannot be closed (and its
    // number reused) between the check above and this write. A failed write only means the
    // counter is saturated, and the loop is awake then anyway.
    [[maybe_unused]] ssize_t n = ::write(event_fd_, &one, sizeof one);
  }
  return true;
}

void RemoteQueue::take(std::vector<Callback>& out) {
  std::lock_guard lock(mutex_);
  out.swap(items_);
  wake_pending_ = false;
}

std::vector<Callback> RemoteQueue::close() noexcept {
  std::lock_guard lock(mutex_);
  closed_ = true;
  if (event_fd_ >= 0) ::close(std::exchange(event_fd_, -1));
  return std::move(items_);
}

// ---- LoopImpl ------------------------------------------------------------------------------

LoopImpl::LoopImpl(IOLoop& owner) : owner_(owner) {
  sigemptyset(&signal_mask_);
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw_errno("epoll_create1");
  event_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (event_fd_ < 0) {
    ::close(epoll_fd_);
    throw_errno("eventfd");
  }
  remote_ = std::make_shared<RemoteQueue>(event_fd_);
  watch_internal(event_fd_, &LoopImpl::drain_remote);
}

LoopImpl::~LoopImpl() {
  close(false);
}

void LoopImpl::watch_internal(int fd, void (LoopImpl::*on_ready)()) {
  add_handler(fd, IOLoop::READ, [this, on_ready](int, std::uint32_t) { (this->*on_ready)(); });
  fds_[static_cast<std::size_t>(fd)].internal = true;
}

void LoopImpl::check_open(const char* operation) const {
  if (closed_) throw InvalidStateError(std::string(operation) + "() on a closed IOLoop");
}

void LoopImpl::schedule(Callback&& cb, FutureStateBase* keepalive) noexcept {
  if (closing_) {
    cb.reset();
    if (keepalive) keepalive->release();
    return;
  }
  ready_.emplace_back(std::move(cb), keepalive);
}

void LoopImpl::add_callback(Callback&& cb, const char* operation) {
  if (tls_current == &owner_) {
    check_open(operation);
    schedule(std::move(cb));
  } else if (!remote_->post(cb)) {
    check_open(operation);
    // Posted from another thread while close() runs: dropped, as close() drops queued work.
  }
}

TimeoutHandle LoopImpl::add_timer(IOLoop::time_point when, Callback&& cb) {
  check_open("call_at");
  if (closing_) return {};
  if (timers_.empty()) timers_.observe(to_ns(IOLoop::clock::now()));
  auto handle = timers_.add(to_ns(when), std::move(cb));
  return TimeoutHandle(handle.slot, handle.generation);
}

void LoopImpl::remove_timeout(TimeoutHandle handle) noexcept {
  if (handle) timers_.cancel({handle.slot_, handle.generation_});
}

void LoopImpl::add_handler(int fd, std::uint32_t events, IOLoop::Handler handler) {
  check_open("add_handler");
  if (fd < 0) throw ValueError("add_handler() with a negative file descriptor");
  if (static_cast<std::size_t>(fd) >= fds_.size()) fds_.resize(static_cast<std::size_t>(fd) + 1);
  FdEntry& entry = fds_[static_cast<std::size_t>(fd)];
  if (entry.registered) {
    throw InvalidStateError("add_handler(): fd " + std::to_string(fd) + " has a handler already");
  }
  epoll_event ev{};
  ev.events = to_epoll(events);
  ev.data.u64 =
      (static_cast<std::uint64_t>(entry.generation + 1) << 32) | static_cast<std::uint32_t>(fd);
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) throw_errno("epoll_ctl(ADD)");
  ++entry.generation;
  entry.handler = std::move(handler);
  entry.events = events;
  entry.registered = true;
  entry.internal = false;
}

void LoopImpl::update_handler(int fd, std::uint32_t events) {
  check_open("update_handler");
  if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size() || !fds_[fd].registered) {
    throw InvalidStateError("update_handler(): fd " + std::to_string(fd) + " has no handler");
  }
  FdEntry& entry = fds_[static_cast<std::size_t>(fd)];
  if (entry.events == events) return;
  epoll_event ev{};
  ev.events = to_epoll(events);
  ev.data.u64 =
      (static_cast<std::uint64_t>(entry.generation) << 32) | static_cast<std::uint32_t>(fd);
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0) throw_errno("epoll_ctl(MOD)");
  entry.events = events;
}

void LoopImpl::remove_handler(int fd) noexcept {
  if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return;
  FdEntry& entry = fds_[static_cast<std::size_t>(fd)];
  if (!entry.registered) return;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);  // fails harmlessly if fd is closed already
  entry.registered = false;
  entry.events = 0;
  // The handler may be running now (removing itself); it is destroyed when it returns.
  IOLoop::Handler dropped = std::move(entry.handler);
}

void LoopImpl::add_signal_handler(int signum, IOLoop::SignalHandler handler) {
  check_open("add_signal_handler");
  sigset_t mask = signal_mask_;
  if (sigaddset(&mask, signum) != 0) throw_errno("sigaddset");
  if (int rc = pthread_sigmask(SIG_BLOCK, &mask, nullptr); rc != 0) {
    errno = rc;  // pthread functions return their error rather than setting errno
    throw_errno("pthread_sigmask");
  }
  int fd = ::signalfd(signal_fd_, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) throw_errno("signalfd");
  signal_mask_ = mask;
  if (signal_fd_ < 0) {
    signal_fd_ = fd;
    watch_internal(signal_fd_, &LoopImpl::read_signals);
  }
  signal_handlers_[signum] = std::move(handler);
}

bool LoopImpl::remove_signal_handler(int signum) noexcept {
  auto it = signal_handlers_.find(signum);
  if (it == signal_handlers_.end()) return false;
  signal_handlers_.erase(it);
  sigdelset(&signal_mask_, signum);
  if (signal_fd_ >= 0) ::signalfd(signal_fd_, &signal_mask_, SFD_NONBLOCK | SFD_CLOEXEC);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, signum);
  pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
  return true;
}

void LoopImpl::read_signals() {
  signalfd_siginfo info[16];
  for (;;) {
    ssize_t n = ::read(signal_fd_, info, sizeof info);
    if (n <= 0) return;
    for (std::size_t i = 0; i < static_cast<std::size_t>(n) / sizeof(signalfd_siginfo); ++i) {
      int signum = static_cast<int>(info[i].ssi_signo);
      auto it = signal_handlers_.find(signum);
      if (it == signal_handlers_.end()) continue;
      run_guarded([&] { it->second(signum); }, [&] { return it->second.describe(); });
    }
  }
}

void LoopImpl::drain_remote() {
  std::uint64_t count;
  [[maybe_unused]] ssize_t n = ::read(event_fd_, &count, sizeof count);
  remote_->take(remote_batch_);
  for (auto& cb : remote_batch_) schedule(std::move(cb));
  remote_batch_.clear();
}

template <class Fn, class Describe>
void LoopImpl::run_guarded(Fn&& fn, const Describe& describe) noexcept {
  const bool timed = blocking_threshold_.count() > 0;
  IOLoop::time_point started;
  if (timed) started = IOLoop::clock::now();
  try {
    fn();
  } catch (...) {
    try {
      log::app_log().error("Exception in callback {}: {}", describe(),
                           log::describe(std::current_exception()));
    } catch (...) {
    }
  }
  if (timed) {
    auto took = IOLoop::clock::now() - started;
    if (took > blocking_threshold_) {
      try {
        log::gen_log().warn("Blocked for {:.3f}s running {}",
                            std::chrono::duration<double>(took).count(), describe());
      } catch (...) {
      }
    }
  }
}

int LoopImpl::poll_timeout_ms() noexcept {
  if (!ready_.empty() || stopping_) return 0;
  std::int64_t when;
  if (!timers_.next_deadline(when)) return -1;
  std::int64_t wait_ns = when - to_ns(IOLoop::clock::now());
  if (wait_ns <= 0) return 0;
  std::int64_t ms = (wait_ns + 999'999) / 1'000'000;  // round up: never wake before the deadline
  return static_cast<int>(std::min<std::int64_t>(ms, INT_MAX));
}

void LoopImpl::poll(int timeout_ms) {
  epoll_event events[kMaxEvents];
  int n = ::epoll_wait(epoll_fd_, events, kMaxEvents, timeout_ms);
  if (n < 0) {
    if (errno == EINTR) return;
    throw_errno("epoll_wait");
  }
  for (int i = 0; i < n; ++i) {
    int fd = static_cast<int>(events[i].data.u64 & 0xffffffffu);
    auto generation = static_cast<std::uint32_t>(events[i].data.u64 >> 32);
    if (static_cast<std::size_t>(fd) >= fds_.size()) continue;
    FdEntry& entry = fds_[static_cast<std::size_t>(fd)];
    // Skip events of a handler removed (or replaced) earlier in this batch.
    if (!entry.registered || entry.generation != generation) continue;
    IOLoop::Handler handler = std::move(entry.handler);
    std::uint32_t ready = from_epoll(events[i].events);
    run_guarded([&] { handler(fd, ready); }, [&] { return handler.describe(); });
    FdEntry& after = fds_[static_cast<std::size_t>(fd)];  // fds_ may have grown
    if (after.registered && after.generation == generation && !after.handler) {
      after.handler = std::move(handler);
    }
  }
}

void LoopImpl::run_timers() {
  std::int64_t next;
  if (!timers_.next_deadline(next)) return;
  // The precise clock, not the coarse one: the coarse clock can lag by more than its stated
  // resolution, and a timer that is due would then wait behind the ready callbacks (and the
  // loop would spin on zero-timeout polls until the coarse clock caught up).
  const std::int64_t now = to_ns(IOLoop::clock::now());
  if (next > now) return;
  Callback cb;
  while (timers_.pop_due(now, cb)) {
    run_guarded(cb, [&] { return cb.describe(); });
    cb.reset();
  }
}

void LoopImpl::run_ready() {
  // Only what was ready when the pass began: a callback queued now (a coroutine yielding with
  // gen::moment, a callback rescheduling itself) waits for the timers and I/O of the next pass.
  std::size_t count = ready_.size();
  callbacks_since_poll_ += count;
  for (; count > 0 && !stopping_; --count) {
    // Run where it lies: queued elements never move, and nothing else pops while it runs.
    Ready& item = ready_.front();
    run_guarded(item.callback, [&] { return item.callback.describe(); });
    item.callback.reset();
    if (item.keepalive) item.keepalive->release();
    ready_.pop_front();
  }
}

void LoopImpl::drop_ready() noexcept {
  while (!ready_.empty()) {
    Ready& item = ready_.front();
    item.callback.reset();
    if (item.keepalive) item.keepalive->release();
    ready_.pop_front();
  }
}

void LoopImpl::run_once() {
  std::int64_t coarse_now = coarse_now_ns();
  if (ready_.empty() || stopping_) {
    poll(poll_timeout_ms());  // waits for I/O or the next timer
    coarse_now = coarse_now_ns();
    mark_polled(coarse_now);
  } else if (callbacks_since_poll_ >= kCallbacksPerPoll || coarse_now != last_poll_coarse_) {
    poll(0);  // callbacks are waiting: look at I/O without blocking, now and then
    mark_polled(coarse_now);
  }
  if (!timers_.empty()) run_timers();
  run_ready();
}

void LoopImpl::start() {
  check_open("start");
  if (running_) throw InvalidStateError("start() on an IOLoop that is running already");
  IOLoop* previous = std::exchange(tls_current, &owner_);
  running_ = true;
  stopping_ = false;
  try {
    while (!stopping_) run_once();
  } catch (...) {
    running_ = false;
    stopping_ = false;
    tls_current = previous;
    throw;
  }
  running_ = false;
  stopping_ = false;
  tls_current = previous;
}

ThreadPoolExecutor& LoopImpl::default_executor() {
  check_open("default_executor");
  if (!default_executor_) {
    default_executor_ = std::make_unique<ThreadPoolExecutor>(ThreadPoolExecutor::default_workers());
  }
  return *default_executor_;
}

void LoopImpl::close(bool all_fds) {
  if (closed_ || closing_) return;
  if (running_) throw InvalidStateError("close() on an IOLoop that is running");
  // Finish the default pool's work first, so its results land in the queue dropped below.
  default_executor_.reset();
  IOLoop* previous = std::exchange(tls_current, &owner_);  // teardown schedules onto this loop
  closing_ = true;
  // Callback-driven loops let go of themselves first, as suspended coroutines are destroyed
  // below; what they schedule while doing so is dropped with the rest.
  close_hooks_.run_all();
  // Callbacks still posted from other threads are destroyed here, outside the queue's mutex
  // (their destructors may post again, which the closed queue refuses).
  static_cast<void>(remote_->close());
  event_fd_ = -1;  // closed by the remote queue
  drop_ready();
  timers_.clear();
  for (std::size_t fd = 0; fd < fds_.size(); ++fd) {
    FdEntry& entry = fds_[fd];
    if (!entry.registered) continue;
    entry.registered = false;
    IOLoop::Handler dropped = std::move(entry.handler);
    if (all_fds && !entry.internal) ::close(static_cast<int>(fd));
  }
  fds_.clear();
  coroutines_.destroy_all();
  drop_ready();  // what destroyed coroutines' destructors queued
  timers_.clear();
  if (signal_fd_ >= 0) {
    pthread_sigmask(SIG_UNBLOCK, &signal_mask_, nullptr);
    ::close(std::exchange(signal_fd_, -1));
  }
  signal_handlers_.clear();
  ::close(std::exchange(epoll_fd_, -1));
  tls_current = previous;
  closed_ = true;
}

}  // namespace detail

void detail::LoopCloseHook::link_to(IOLoop& loop) noexcept {
  loop.impl().close_hooks().link(*this);
}

// ---- IOLoop --------------------------------------------------------------------------------

IOLoop::IOLoop() : impl_(std::make_unique<detail::LoopImpl>(*this)) {
  if (!detail::tls_current) detail::tls_current = this;
}

IOLoop::~IOLoop() {
  impl_->close(false);
  if (detail::tls_current == this) detail::tls_current = nullptr;
}

IOLoop& IOLoop::current() {
  if (!detail::tls_current) {
    if (detail::tls_exiting) throw InvalidStateError("IOLoop::current() while the thread exits");
    detail::tls_implicit.loop = std::make_unique<IOLoop>();
    detail::tls_current = detail::tls_implicit.loop.get();
  }
  return *detail::tls_current;
}

IOLoop* IOLoop::current_or_null() noexcept {
  return detail::tls_current;
}
void IOLoop::make_current() noexcept {
  detail::tls_current = this;
}
void IOLoop::start() {
  impl_->start();
}
void IOLoop::stop() noexcept {
  impl_->stop();
}
bool IOLoop::running() const noexcept {
  return impl_->running();
}
void IOLoop::close(bool all_fds) {
  impl_->close(all_fds);
}
bool IOLoop::closed() const noexcept {
  return impl_->closed();
}

void IOLoop::add_callback_impl(detail::Callback&& cb, const char* operation) {
  impl_->add_callback(std::move(cb), operation);
}

TimeoutHandle IOLoop::add_timer(time_point when, detail::Callback&& cb) {
  return impl_->add_timer(when, std::move(cb));
}

void IOLoop::remove_timeout(TimeoutHandle handle) noexcept {
  impl_->remove_timeout(handle);
}

void IOLoop::add_handler(int fd, std::uint32_t events, Handler handler) {
  impl_->add_handler(fd, events, std::move(handler));
}
void IOLoop::update_handler(int fd, std::uint32_t events) {
  impl_->update_handler(fd, events);
}
void IOLoop::remove_handler(int fd) noexcept {
  impl_->remove_handler(fd);
}

void IOLoop::add_signal_handler(int signum, SignalHandler handler) {
  impl_->add_signal_handler(signum, std::move(handler));
}
bool IOLoop::remove_signal_handler(int signum) noexcept {
  return impl_->remove_signal_handler(signum);
}

void IOLoop::set_blocking_log_threshold(duration threshold) noexcept {
  impl_->set_blocking_log_threshold(threshold);
}

ThreadPoolExecutor& IOLoop::default_executor() {
  return impl_->default_executor();
}

bool IOLoop::run_until_done(detail::UniqueFunction<detail::FutureStateBase*()> start,
                            std::optional<duration> timeout) {
  bool timed_out = false;
  TimeoutHandle timer;
  if (timeout) {
    timer = call_later(*timeout, [this, &timed_out] {
      timed_out = true;
      stop();
    });
  }
  // The waiter may outlive this call (after a timeout); it stops the loop only while we wait.
  auto waiting = std::make_shared<bool>(true);
  add_callback([this, &start, waiting] {
    // `start` lives in this call's frame: after a timeout or a failed start() it is gone.
    if (!*waiting) return;
    detail::FutureStateBase* pending = start();
    if (!pending) {
      stop();
    } else {
      pending->add_waiter([this, waiting] {
        if (*waiting) stop();
      });
    }
  });
  try {
    impl_->start();
  } catch (...) {
    *waiting = false;
    remove_timeout(timer);
    throw;
  }
  *waiting = false;
  remove_timeout(timer);
  return timed_out;
}

// ---- PeriodicCallback ----------------------------------------------------------------------

struct PeriodicCallback::State : std::enable_shared_from_this<State> {
  Function fn;
  IOLoop::duration period;
  double jitter;
  IOLoop* loop = nullptr;
  bool running = false;
  std::uint64_t generation = 0;  // bumped by start(): work of an earlier run is ignored
  IOLoop::time_point next;
  TimeoutHandle timer;

  IOLoop::duration jittered() const {
    if (jitter == 0.0) return period;
    thread_local std::mt19937_64 random{std::random_device{}()};
    double factor = 1.0 + jitter * (std::uniform_real_distribution<double>(0.0, 1.0)(random) - 0.5);
    return std::chrono::duration_cast<IOLoop::duration>(period * factor);
  }

  // As Tornado: skip the runs that were missed, so a slow callback does not cause a burst.
  void update_next(IOLoop::time_point now) {
    auto step = jittered();
    if (next <= now) {
      next += (((now - next) / step) + 1) * step;
    } else {
      next += step;  // the clock went backwards: still advance
    }
  }

  void schedule_next(std::uint64_t run_generation) {
    if (!running || run_generation != generation) return;
    update_next(loop->time());
    timer = loop->call_at(next, [weak = weak_from_this(), run_generation] {
      if (auto self = weak.lock()) self->run(run_generation);
    });
  }

  void run(std::uint64_t run_generation) {
    if (!running || run_generation != generation) return;
    Future<void> result = make_ready_future();
    try {
      result = fn();
    } catch (...) {
      detail::log_callback_error(std::current_exception(), typeid(PeriodicCallback));
    }
    result.add_done_callback([weak = weak_from_this(), run_generation](const Future<void>& done) {
      if (!done.cancelled()) {
        if (auto error = done.exception()) {
          detail::log_callback_error(error, typeid(PeriodicCallback));
        }
      }
      if (auto self = weak.lock()) self->schedule_next(run_generation);
    });
  }
};

PeriodicCallback::PeriodicCallback(Function fn, IOLoop::duration callback_time, double jitter)
    : state_(std::make_shared<State>()) {
  if (callback_time <= IOLoop::duration::zero()) {
    throw ValueError("PeriodicCallback: callback_time must be positive");
  }
  state_->fn = std::move(fn);
  state_->period = callback_time;
  state_->jitter = jitter;
}

PeriodicCallback::~PeriodicCallback() {
  stop();
}

void PeriodicCallback::start() {
  if (state_->running) return;
  state_->loop = &IOLoop::current();
  state_->running = true;
  state_->next = state_->loop->time();
  state_->schedule_next(++state_->generation);
}

void PeriodicCallback::stop() noexcept {
  state_->running = false;
  if (state_->loop && state_->timer) {
    state_->loop->remove_timeout(state_->timer);
    state_->timer = {};
  }
}

bool PeriodicCallback::is_running() const noexcept {
  return state_->running;
}

}  // namespace squall
