// The long-polling chat page's script. The form posts to /a/message/new in the background, and a
// loop keeps one POST /a/message/updates open, which the server answers with the messages after
// `updater.cursor` once there are any. Plain browser JavaScript, no library.
'use strict';

var updater = {
  // The id of the last message the server sent or rendered into the page; null for none.
  cursor: null,
  // Milliseconds to wait before polling again after a failed poll, doubled each time.
  errorDelay: 500,

  poll: async function() {
    for (;;) {
      var fields = {_xsrf: xsrfToken()};
      if (updater.cursor) fields.cursor = updater.cursor;
      try {
        var response = await postForm('/a/message/updates', fields);
        updater.newMessages(response.messages);
        updater.errorDelay = 500;
      } catch (error) {
        updater.errorDelay = Math.min(updater.errorDelay * 2, 60000);
        console.log('Poll error (' + error.message + '); polling again in ' +
                    updater.errorDelay + ' ms');
        await new Promise(function(resolve) { setTimeout(resolve, updater.errorDelay); });
      }
    }
  },

  newMessages: function(messages) {
    // None when the server is closing: the next poll finds out whether it is back.
    if (!Array.isArray(messages) || messages.length === 0) return;
    updater.cursor = messages[messages.length - 1].id;
    messages.forEach(updater.showMessage);
  },

  showMessage: function(message) {
    // A message comes twice to the page that posted it: in the answer to its post and by poll.
    if (document.getElementById('m' + message.id)) return;
    // message.html is the server's rendering, with the body escaped.
    var template = document.createElement('template');
    template.innerHTML = message.html.trim();
    var inbox = document.getElementById('inbox');
    inbox.appendChild(template.content);
    inbox.lastElementChild.scrollIntoView({block: 'nearest'});
  },
};

// The token the server checks on every POST, read from the `_xsrf` cookie each time: the one in
// the form is stale when another tab, loaded at the same time, replaced the cookie.
function xsrfToken() {
  var cookie = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/);
  return cookie ? cookie[1] : document.querySelector('#messageform input[name=_xsrf]').value;
}

// POSTs `fields` form-encoded to `url` and resolves to the JSON answer; rejects on any failure.
async function postForm(url, fields) {
  var response = await fetch(url, {method: 'POST', body: new URLSearchParams(fields)});
  if (!response.ok) throw new Error(url + ': ' + response.status + ' ' + response.statusText);
  return response.json();
}

async function newMessage(form) {
  var fields = {};
  new FormData(form).forEach(function(value, name) { fields[name] = value; });
  // Without `next` the server answers the message as JSON instead of redirecting.
  delete fields.next;
  fields._xsrf = xsrfToken();
  if (!fields.body || !fields.body.trim()) return;
  var submit = form.querySelector('input[type=submit]');
  var input = form.querySelector('input[type=text]');
  submit.disabled = true;
  try {
    updater.showMessage(await postForm(form.action, fields));
    input.value = '';
  } catch (error) {
    console.log('Post error: ' + error.message);
  } finally {
    submit.disabled = false;
    input.select();
  }
}

document.addEventListener('DOMContentLoaded', function() {
  var form = document.getElementById('messageform');
  // Enter in the text field submits the form too: one handler for both.
  form.addEventListener('submit', function(event) {
    event.preventDefault();
    newMessage(form);
  });
  var rendered = document.querySelectorAll('#inbox .message');
  if (rendered.length > 0) updater.cursor = rendered[rendered.length - 1].id.substring(1);
  document.getElementById('message').select();
  updater.poll();
});
