#include "squall/core/executor.hpp"

#include <pthread.h>
#include <signal.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace squall {

struct ThreadPoolExecutor::Impl {
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<detail::UniqueFunction<void()>> jobs;
  std::vector<std::thread> workers;
  std::size_t max_workers = 1;
  std::size_t idle = 0;  // workers waiting for a job, less the jobs submitted to them
  bool shutting_down = false;

  void work() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    for (;;) {
      detail::UniqueFunction<void()> job;
      {
        std::unique_lock lock(mutex);
        wake.wait(lock, [this] { return shutting_down || !jobs.empty(); });
        if (jobs.empty()) return;
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      job();  // a job catches what its function throws and delivers it to the loop
      job.reset();
      std::lock_guard lock(mutex);
      ++idle;
    }
  }
};

ThreadPoolExecutor::ThreadPoolExecutor(std::size_t max_workers) : impl_(std::make_unique<Impl>()) {
  impl_->max_workers = max_workers ? max_workers : 1;
}

ThreadPoolExecutor::~ThreadPoolExecutor() {
  shutdown(true);
}

std::size_t ThreadPoolExecutor::default_workers() noexcept {
  unsigned cores = std::thread::hardware_concurrency();
  return (cores ? cores : 1) * 5;
}

std::size_t ThreadPoolExecutor::max_workers() const noexcept {
  return impl_->max_workers;
}

void ThreadPoolExecutor::enqueue(detail::UniqueFunction<void()> job) {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->shutting_down) throw InvalidStateError("submit() on a ThreadPoolExecutor shut down");
    impl_->jobs.push_back(std::move(job));
    // Threads start on demand, up to max_workers: an idle worker takes the job if there is one.
    if (impl_->idle > 0) {
      --impl_->idle;
    } else if (impl_->workers.size() < impl_->max_workers) {
      impl_->workers.emplace_back([impl = impl_.get()] { impl->work(); });
    }
  }
  impl_->wake.notify_one();
}

void ThreadPoolExecutor::shutdown(bool wait) {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->shutting_down = true;
  }
  impl_->wake.notify_all();
  if (!wait) return;  // the destructor joins the workers
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(impl_->mutex);
    workers.swap(impl_->workers);
  }
  for (auto& worker : workers) worker.join();
}

}  // namespace squall
