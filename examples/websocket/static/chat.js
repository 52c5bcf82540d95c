// The chat page's script: posts the form's fields as JSON over a WebSocket and shows each
// message the server broadcasts. Plain browser JavaScript, no library.
'use strict';

var updater = {
  socket: null,

  start: function() {
    var scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    updater.socket = new WebSocket(scheme + location.host + '/chatsocket');
    updater.socket.onmessage = function(event) { updater.showMessage(JSON.parse(event.data)); };
    updater.socket.onclose = function(event) {
      // Posting stops working; a reload reconnects.
      console.log('chat socket closed: ' + event.code + ' ' + event.reason);
    };
  },

  showMessage: function(message) {
    // The page may already hold it: it was cached when the page was rendered.
    if (document.getElementById('m' + message.id)) return;
    // message.html is the server's rendering, with the body escaped.
    var template = document.createElement('template');
    template.innerHTML = message.html.trim();
    var inbox = document.getElementById('inbox');
    inbox.appendChild(template.content);
    inbox.lastElementChild.scrollIntoView({block: 'nearest'});
  },
};

// The form's fields as an object ({body: ..., _xsrf: ...}), without the page's `next`.
function formToDict(form) {
  var fields = {};
  new FormData(form).forEach(function(value, name) { fields[name] = value; });
  delete fields.next;
  return fields;
}

function newMessage(form) {
  if (!updater.socket || updater.socket.readyState !== WebSocket.OPEN) return;
  updater.socket.send(JSON.stringify(formToDict(form)));
  var input = form.querySelector('input[type=text]');
  input.value = '';
  input.select();
}

document.addEventListener('DOMContentLoaded', function() {
  var form = document.getElementById('messageform');
  // Enter in the text field submits the form too: one handler for both.
  form.addEventListener('submit', function(event) {
    event.preventDefault();
    newMessage(form);
  });
  document.getElementById('message').select();
  updater.start();
});
